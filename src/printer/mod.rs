//! The one printer: what goes to stdout (the data a command was asked for: paths, a diff, a
//! summary, JSON objects) and what to stderr (progress, notes, prompts, errors), colour and
//! `NO_COLOR` ([`style`]), and the one format of an error with its hint. Commands and renderers
//! write through it; nothing else in the library prints.

pub mod style;

use std::io::Write;

pub use style::Style;

use crate::error::Diagnostic;

/// How a command shows its progress and results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputMode {
    /// Full-screen terminal UI.
    Tui,
    /// Readable lines.
    Plain,
    /// One JSON object per event, on stdout.
    Json,
}

/// Where a command's text goes. Cheap to copy; the streams are the process's own.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    mode: OutputMode,
    out: Style,
    err: Style,
}

impl Printer {
    /// For the process's stdout and stderr, colour decided per stream ([`Style`]).
    pub fn new(mode: OutputMode) -> Self {
        Self {
            mode,
            out: Style::for_stdout(),
            err: Style::for_stderr(),
        }
    }

    pub fn mode(&self) -> OutputMode {
        self.mode
    }

    pub fn is_json(&self) -> bool {
        self.mode == OutputMode::Json
    }

    /// The style of text written to stdout.
    pub fn out_style(&self) -> Style {
        self.out
    }

    /// The style of text written to stderr.
    pub fn err_style(&self) -> Style {
        self.err
    }

    /// The data stream, for renderers that write events as they come.
    pub fn stdout(&self) -> std::io::Stdout {
        std::io::stdout()
    }

    /// The chrome stream, for renderers and prompts.
    pub fn stderr(&self) -> std::io::Stderr {
        std::io::stderr()
    }

    /// Data on stdout, as given (no newline added). A closed pipe (`| head`) is not an error:
    /// the reader has what it wanted.
    pub fn data(&self, text: &str) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            r => r,
        }
    }

    /// One line of data on stdout.
    pub fn data_line(&self, line: &str) {
        let _ = self.data(&format!("{line}\n"));
    }

    /// One JSON object on stdout, on its own line.
    pub fn json(&self, value: &serde_json::Value) {
        self.data_line(&value.to_string());
    }

    /// A line of chrome on stderr (progress, what was done, what is left).
    pub fn status(&self, line: &str) {
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }

    /// A note on stderr: a dim label, then the text.
    pub fn note(&self, label: &str, text: &str) {
        self.status(&format!("{} {text}", self.err.dim(label)));
    }

    /// A warning on stderr, in the error format.
    pub fn warn(&self, message: &str, hint: Option<&str>) {
        self.status(&format_problem(self.err, "warning:", message, hint));
    }

    /// An error, in the one format every command uses: `error: <message>` and, when there is
    /// something to do, `  hint: <hint>` on stderr. With `--output json` the same error is also
    /// a JSON object on stdout (`{"event":"error","message",...}`), so a script reading stdout
    /// sees why the command ended.
    pub fn error(&self, e: &(impl Diagnostic + ?Sized)) {
        let hint = e.hint();
        let _ = write!(
            std::io::stderr().lock(),
            "{}",
            format_error(self.err, &e.to_string(), hint.as_deref())
        );
        if self.is_json() {
            self.json(&error_json(e));
        }
    }
}

/// Whether a person is at the terminal: stdin and stderr are terminals, so a question can be
/// asked and a full screen drawn.
pub fn interactive() -> bool {
    use std::io::IsTerminal;
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// `error: <message>` and `  hint: <hint>`, each line ended, as the printer writes them.
pub fn format_error(style: Style, message: &str, hint: Option<&str>) -> String {
    format!("{}\n", format_problem(style, "error:", message, hint))
}

fn format_problem(style: Style, label: &str, message: &str, hint: Option<&str>) -> String {
    let label = if label == "error:" {
        style.red(label)
    } else {
        style.yellow(label)
    };
    let message = message.trim_end_matches('\n');
    match hint {
        Some(h) => format!("{label} {message}\n  {}", style.dim(&format!("hint: {h}"))),
        None => format!("{label} {message}"),
    }
}

/// The JSON object of an error: `event`, `message`, `hint`, `exit_code`, plus the error's own
/// details (which may name a more precise event, such as `invalid_answers`).
pub fn error_json(e: &(impl Diagnostic + ?Sized)) -> serde_json::Value {
    let mut v = serde_json::json!({
        "event": "error",
        "message": e.to_string(),
        "hint": e.hint(),
        "exit_code": e.exit_code(),
    });
    if let (Some(serde_json::Value::Object(extra)), Some(obj)) =
        (e.json_details(), v.as_object_mut())
    {
        for (k, val) in extra {
            obj.insert(k, val);
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::CommandError;

    #[test]
    fn an_error_is_one_line_and_its_hint_the_next() {
        let text = format_error(Style::plain(), "it broke", Some("fix it"));
        assert_eq!(text, "error: it broke\n  hint: fix it\n");
        assert_eq!(
            format_error(Style::plain(), "it broke\n", None),
            "error: it broke\n"
        );
    }

    #[test]
    fn the_json_error_carries_code_hint_and_details() {
        let mut e = CommandError::usage("bad", "do better");
        e.details = Some(Box::new(
            serde_json::json!({"event": "invalid_answers", "errors": []}),
        ));
        let v = error_json(&e);
        assert_eq!(v["event"], "invalid_answers");
        assert_eq!(v["exit_code"], 2);
        assert_eq!(v["hint"], "do better");
        assert_eq!(v["message"], "bad");
    }
}
