//! How a command ended, and the one mapping from that to the process's exit code. Every command
//! returns an [`Outcome`]; every error carries one (see [`crate::error::Diagnostic`]).

use crate::exit;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Everything went as asked (also: the user declined, and nothing was changed).
    Done,
    /// `diff`: the stacks differ from the templates.
    Changes,
    /// Something failed: an AWS call, a step, a deploy.
    Failed,
    /// The command line, the answers or a local file is not usable; nothing was changed.
    Invalid,
    /// Ctrl-C, after stopping at a safe point.
    Interrupted,
}

impl Outcome {
    /// The exit code: 0, 3, 1, 2, 130. The only place this mapping is made.
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Done => exit::OK,
            Outcome::Changes => exit::CHANGES,
            Outcome::Failed => exit::FAILURE,
            Outcome::Invalid => exit::USAGE,
            Outcome::Interrupted => exit::INTERRUPTED,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_has_its_documented_code() {
        let codes: Vec<u8> = [
            Outcome::Done,
            Outcome::Changes,
            Outcome::Failed,
            Outcome::Invalid,
            Outcome::Interrupted,
        ]
        .into_iter()
        .map(Outcome::exit_code)
        .collect();
        assert_eq!(codes, vec![0, 3, 1, 2, 130]);
    }
}
