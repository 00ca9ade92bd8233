//! `--output json`: one JSON object per event on stdout, flushed as it happens.

use std::io::Write;

use super::Renderer;
use crate::engine::Event;

pub struct JsonRenderer<W: Write + Send> {
    out: W,
}

impl<W: Write + Send> JsonRenderer<W> {
    pub fn new(out: W) -> Self {
        Self { out }
    }
}

impl<W: Write + Send> Renderer for JsonRenderer<W> {
    fn render(&mut self, event: &Event) {
        let line = serde_json::to_string(event).expect("events serialise");
        let _ = writeln!(self.out, "{line}");
        let _ = self.out.flush();
    }
}
