//! The seam between the guided install and the deploy: at the end the user picks "deploy now"
//! (the install leaves its screen and hands the terminal to a [`DeployHandoff`]) or "later" (the
//! command that deploys is printed).
//!
//! The install command passes the deploy engine's implementation
//! (`commands::deploy::EngineDeploy`): the front ends only call it.

use std::path::PathBuf;

use async_trait::async_trait;

/// What the deploy needs to know about the environment the install prepared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployRequest {
    pub env: String,
    pub dir: PathBuf,
    /// `medplum.<env>.config.json`, absolute when the folder could be resolved.
    pub config_path: PathBuf,
    pub region: String,
}

#[async_trait]
pub trait DeployHandoff: Send + Sync {
    /// Whether "deploy now" can be offered.
    fn available(&self) -> bool;

    /// The command that deploys later, printed when the user picks "later".
    fn later_command(&self, req: &DeployRequest) -> String;

    /// Deploys now. Called after the install restored the terminal; the deploy may set up its
    /// own screen. Returns the exit code (0, 1, 130).
    async fn deploy_now(&self, req: &DeployRequest) -> crate::outcome::Outcome;
}

impl DeployRequest {
    /// The command that deploys this environment later.
    pub fn deploy_command(&self) -> String {
        format!(
            "medplum-init deploy --dir {} --env {}",
            self.dir.display(),
            self.env
        )
    }
}

/// A hand-off that only ever offers "later": the test double of the front ends' tests.
#[cfg(test)]
pub(crate) struct LaterOnly;

#[cfg(test)]
#[async_trait]
impl DeployHandoff for LaterOnly {
    fn available(&self) -> bool {
        false
    }

    fn later_command(&self, req: &DeployRequest) -> String {
        req.deploy_command()
    }

    async fn deploy_now(&self, _req: &DeployRequest) -> crate::outcome::Outcome {
        crate::outcome::Outcome::Invalid
    }
}
