//! Exit codes, the same for every command.

/// Everything went as asked.
pub const OK: u8 = 0;
/// Something failed (an AWS call, a step, a deploy).
pub const FAILURE: u8 = 1;
/// The command line or the answers are not usable; nothing was changed.
pub const USAGE: u8 = 2;
/// `diff`: the stacks differ from the templates (like `terraform plan -detailed-exitcode`, but
/// 3 so it cannot be mistaken for a usage error).
pub const CHANGES: u8 = 3;
/// Interrupted (Ctrl-C), after stopping at a safe point.
pub const INTERRUPTED: u8 = 130;
