//! The seam between the guided install and the deploy: at the end the user picks "deploy now"
//! (the install leaves its screen and hands the terminal to a [`DeployHandoff`]) or "later" (the
//! command that deploys is printed).
//!
//! The binary passes the deploy engine's implementation; until one is wired in, [`CdkCommand`]
//! offers only "later", with Medplum's own CDK command.

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
    async fn deploy_now(&self, req: &DeployRequest) -> u8;
}

/// No deploy engine: "later" prints Medplum's CDK command for the config file.
pub struct CdkCommand;

#[async_trait]
impl DeployHandoff for CdkCommand {
    fn available(&self) -> bool {
        false
    }

    fn later_command(&self, req: &DeployRequest) -> String {
        // Medplum's CDK app keeps CloudFront's certificates and WAF in a us-east-1 companion
        // stack when the main stack is elsewhere; `--all` deploys both.
        let all = if req.region == crate::aws::clients::GLOBAL_REGION {
            ""
        } else {
            " --all"
        };
        format!(
            "cd <your Medplum checkout>/packages/cdk && npx cdk deploy -c config={}{all}",
            req.config_path.display()
        )
    }

    async fn deploy_now(&self, _req: &DeployRequest) -> u8 {
        crate::exit::USAGE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdk_command_adds_all_outside_us_east_1() {
        let mut req = DeployRequest {
            env: "staging".into(),
            dir: ".".into(),
            config_path: "/w/medplum.staging.config.json".into(),
            region: "us-east-1".into(),
        };
        assert!(!CdkCommand.later_command(&req).contains("--all"));
        req.region = "eu-west-1".into();
        assert!(
            CdkCommand
                .later_command(&req)
                .contains("config=/w/medplum.staging.config.json --all")
        );
    }
}
