//! The deploy engine's front ends: the Terraform-style diff, the plain log, JSON lines and the
//! ratatui progress pane with its full-screen loop ([`screen`]). All of them read
//! [`DeployEvent`]s (and the [`crate::deploy::progress::DeployState`] folded from them); none
//! calls AWS.

pub mod diff;
pub mod json;
pub mod pane;
pub mod plain;
pub mod screen;

use crate::deploy::event::DeployEvent;

/// Something that shows deploy events as they come.
pub trait DeployRenderer: Send {
    fn render(&mut self, event: &DeployEvent);
    /// Called once after the last event.
    fn finish(&mut self) {}
}
