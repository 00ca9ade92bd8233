//! The run's own records in `.medplum-init/<env>/`: `events.log`, every event of every run as JSON
//! lines (an audit trail that, like the events themselves, holds no secrets), and, when
//! `MEDPLUM_INIT_LOG=debug|trace` is set, `debug.log` with medplum-init's own tracing output.
//! Only medplum-init's targets are logged: the SDK's wire-level traces could carry request
//! bodies, which is where secrets travel.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use crate::engine::Event;
use crate::ui::Renderer;

/// Our own log files: 0600 from creation, a link at the path refused rather than followed (an
/// append through a planted link would write into someone else's file). The folder is the
/// journal's, already checked private by the time a log is opened.
fn open_private(path: &Path) -> std::io::Result<File> {
    crate::fsutil::open_append_private(path, 0o600)
}

/// Appends every event to `events.log`.
pub struct EventLog {
    file: File,
}

impl EventLog {
    pub fn open(state_dir: &Path) -> std::io::Result<Self> {
        Ok(Self {
            file: open_private(&state_dir.join("events.log"))?,
        })
    }
}

impl Renderer for EventLog {
    fn render(&mut self, event: &Event) {
        let record =
            serde_json::json!({ "at": crate::engine::time::now_rfc3339(), "event": event });
        let _ = writeln!(self.file, "{record}");
    }
    fn finish(&mut self) {
        let _ = self.file.sync_all();
    }
}

/// Installs the tracing subscriber when `MEDPLUM_INIT_LOG` asks for one.
pub fn init_tracing(state_dir: &Path) {
    let level = match std::env::var("MEDPLUM_INIT_LOG").ok().as_deref() {
        Some("debug") => tracing::Level::DEBUG,
        Some("trace") => tracing::Level::TRACE,
        Some("info") => tracing::Level::INFO,
        _ => return,
    };
    let Ok(file) = open_private(&state_dir.join("debug.log")) else {
        return;
    };
    let filter = tracing_subscriber::filter::Targets::new().with_target("medplum_init", level);
    use tracing_subscriber::layer::SubscriberExt;
    let subscriber = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file)),
        )
        .with(filter);
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// Sends each event to several renderers.
pub struct Tee(pub Vec<Box<dyn Renderer>>);

impl Renderer for Tee {
    fn render(&mut self, event: &Event) {
        for r in &mut self.0 {
            r.render(event);
        }
    }
    fn finish(&mut self) {
        for r in &mut self.0 {
            r.finish();
        }
    }
}
