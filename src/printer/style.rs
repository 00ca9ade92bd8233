//! Colour, when the terminal and the user want it: `NO_COLOR` turns it off, `CLICOLOR_FORCE`
//! on, otherwise it follows whether the stream is a terminal.

use std::io::IsTerminal;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
}

impl Style {
    pub fn for_stderr() -> Self {
        Self {
            color: wants_color(std::io::stderr().is_terminal()),
        }
    }

    pub fn for_stdout() -> Self {
        Self {
            color: wants_color(std::io::stdout().is_terminal()),
        }
    }

    pub fn plain() -> Self {
        Self { color: false }
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    pub fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
    pub fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
    pub fn green(&self, s: &str) -> String {
        self.paint("32", s)
    }
    pub fn yellow(&self, s: &str) -> String {
        self.paint("33", s)
    }
    pub fn red(&self, s: &str) -> String {
        self.paint("31", s)
    }
    pub fn cyan(&self, s: &str) -> String {
        self.paint("36", s)
    }
}

/// The colour decision, separated from the environment for tests.
pub fn decide(no_color: Option<&str>, force: Option<&str>, is_terminal: bool) -> bool {
    if no_color.is_some_and(|v| !v.is_empty()) {
        return false;
    }
    if force.is_some_and(|v| !v.is_empty() && v != "0") {
        return true;
    }
    is_terminal
}

pub fn wants_color(is_terminal: bool) -> bool {
    decide(
        std::env::var("NO_COLOR").ok().as_deref(),
        std::env::var("CLICOLOR_FORCE").ok().as_deref(),
        is_terminal,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_wins() {
        assert!(!decide(Some("1"), Some("1"), true));
        assert!(decide(None, Some("1"), false));
        assert!(decide(Some(""), None, true));
        assert!(!decide(None, None, false));
        assert_eq!(Style { color: false }.red("x"), "x");
    }
}
