//! `--output json` for deploys: one JSON object per event on stdout, flushed as it happens.
//! Ticks (a poll happened) are left out: they carry no news and would flood the stream.

use std::io::Write;

use super::DeployRenderer;
use crate::deploy::event::DeployEvent;

pub struct JsonDeploy<W: Write + Send> {
    out: W,
}

impl<W: Write + Send> JsonDeploy<W> {
    pub fn new(out: W) -> Self {
        Self { out }
    }
}

impl<W: Write + Send> DeployRenderer for JsonDeploy<W> {
    fn render(&mut self, event: &DeployEvent) {
        if matches!(event, DeployEvent::Tick { .. }) {
            return;
        }
        let line = serde_json::to_string(event).expect("deploy events serialise");
        let _ = writeln!(self.out, "{line}");
        let _ = self.out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::event::Time;

    #[test]
    fn one_object_per_line_without_ticks() {
        let mut out = Vec::new();
        {
            let mut r = JsonDeploy::new(&mut out);
            r.render(&DeployEvent::Tick { at: Time(0) });
            r.render(&DeployEvent::Note {
                stack: Some("S".into()),
                message: "hello".into(),
            });
        }
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 1);
        let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(v["event"], "note");
    }
}
