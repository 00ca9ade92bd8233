//! After a deploy: where Medplum now answers, what is recorded in the journal (stack ids,
//! statuses and outputs under `extra.deploy`), and what is left for the user to do.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::deployer::DeployReport;
use crate::config::infra::InfraConfig;
use crate::engine::{Journal, JournalError};

/// The journal key of the deploy record.
pub const JOURNAL_KEY: &str = "deploy";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackRecord {
    pub name: String,
    pub region: String,
    pub stack_id: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployRecord {
    pub deployed_at: String,
    pub ok: bool,
    pub app_url: String,
    pub api_url: String,
    pub stacks: Vec<StackRecord>,
}

/// `https://app.example.com/`.
pub fn app_url(config: &InfraConfig) -> String {
    format!("https://{}/", config.app_domain_name.trim_end_matches('/'))
}

/// The API's base URL: `baseUrl` when set, else `https://<apiDomainName>/`.
pub fn api_url(config: &InfraConfig) -> String {
    config
        .base_url
        .clone()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| format!("https://{}/", config.api_domain_name))
}

/// What the deploy left, for the journal.
pub fn record_of(config: &InfraConfig, report: &DeployReport, now: &str) -> DeployRecord {
    DeployRecord {
        deployed_at: now.to_string(),
        ok: report.ok,
        app_url: app_url(config),
        api_url: api_url(config),
        stacks: report
            .stacks
            .iter()
            .map(|s| StackRecord {
                name: s.name.clone(),
                region: s.region.clone(),
                stack_id: s.stack_id.clone(),
                status: s.status.clone(),
                outputs: s.outputs.clone(),
            })
            .collect(),
    }
}

/// Writes the record to the journal (atomically, like every journal write).
pub fn record(
    journal: &Journal,
    config: &InfraConfig,
    report: &DeployReport,
) -> Result<DeployRecord, JournalError> {
    let rec = record_of(config, report, &crate::engine::time::now_rfc3339());
    journal.set_extra(JOURNAL_KEY, &rec)?;
    Ok(rec)
}

/// Facts about the account that change the advice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Facts {
    /// `Some(true)` when SES in the stack's region can still only send to verified addresses.
    pub ses_sandbox: Option<bool>,
    /// The deploy's last stage published the web app (else it was skipped or failed).
    pub app_published: bool,
}

/// What is left for the user after a successful deploy.
pub fn next_steps(config: &InfraConfig, facts: Facts) -> Vec<String> {
    let env = &config.name;
    let mut steps = Vec::new();
    if !facts.app_published {
        steps.push(format!(
            "publish the web app: `medplum-init app --env {env}` (uploads it to the bucket {} and invalidates CloudFront)",
            config.app_domain_name
        ));
    }
    steps.extend([format!(
            "check the API: `curl {}healthcheck` (the server starts and migrates its database within a few minutes)",
            api_url(config)
        )]);
    // No `medplum aws update-bucket-policies` outside us-east-1: the primary stack's bucket
    // policies already grant the distributions' origin access identities (docs/deploy-engine.md).
    match facts.ses_sandbox {
        Some(false) => {}
        Some(true) => steps.push(format!(
            "SES in {} is in the sandbox: it only sends to verified addresses. Request production access (SES console, Account dashboard)",
            config.region
        )),
        None => steps.push(format!(
            "if SES in {} is still in the sandbox, it only sends to verified addresses: request production access (SES console, Account dashboard)",
            config.region
        )),
    }
    steps
}

/// Whether the account's SES is still in the sandbox (it sends only to verified addresses);
/// `None` when SES cannot say.
pub async fn ses_sandbox(aws: &crate::aws::AwsClients) -> Option<bool> {
    let out = aws.sesv2().get_account().send().await.ok()?;
    Some(!out.production_access_enabled())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::deployer::StackResult;
    use crate::deploy::testkit::reference_config as config;

    #[test]
    fn urls_and_next_steps() {
        let c = config("us-east-1");
        assert_eq!(app_url(&c), "https://app.staging.example.com/");
        assert_eq!(api_url(&c), "https://api.staging.example.com/");
        let steps = next_steps(
            &c,
            Facts {
                ses_sandbox: Some(false),
                app_published: false,
            },
        );
        assert!(steps[0].contains("medplum-init app --env staging"));
        assert!(!steps.iter().any(|s| s.contains("npx")), "no Node needed");
        let published = next_steps(
            &c,
            Facts {
                ses_sandbox: Some(false),
                app_published: true,
            },
        );
        assert!(!published.iter().any(|s| s.contains("web app")));
        assert!(
            !steps
                .iter()
                .any(|s| s.contains("update-bucket-policies") || s.contains("SES"))
        );
        let steps = next_steps(
            &config("eu-west-1"),
            Facts {
                ses_sandbox: Some(true),
                app_published: true,
            },
        );
        assert!(
            !steps.iter().any(|s| s.contains("update-bucket-policies")),
            "the synthesized bucket policies make the manual grant unnecessary"
        );
        assert!(steps.iter().any(|s| s.contains("sandbox")));
    }

    #[test]
    fn outputs_are_recorded_in_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(dir.path(), "staging").unwrap();
        let report = DeployReport {
            ok: true,
            stacks: vec![StackResult {
                name: "MedplumStagingStack".into(),
                region: "us-east-1".into(),
                stack_id: "arn:aws:cloudformation:us-east-1:1:stack/MedplumStagingStack/x".into(),
                status: "CREATE_COMPLETE".into(),
                reason: None,
                outputs: BTreeMap::from([("ApiUrl".into(), "https://api".into())]),
                changed: true,
            }],
            ..Default::default()
        };
        record(&journal, &config("us-east-1"), &report).unwrap();
        drop(journal);
        let journal = Journal::read_only(dir.path(), "staging").unwrap();
        let rec: DeployRecord = journal.extra(JOURNAL_KEY).unwrap();
        assert!(rec.ok);
        assert_eq!(rec.stacks[0].outputs["ApiUrl"], "https://api");
        assert_eq!(rec.app_url, "https://app.staging.example.com/");
    }
}
