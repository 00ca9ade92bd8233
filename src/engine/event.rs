//! The one event type every front end renders (TUI, line prompts, plain log, JSON lines).
//!
//! Events carry ids, names and masked values only: nothing in here may ever hold a secret, which
//! is why parameter values arrive already masked and there is no variant that takes a `Secret`.

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

/// The prerequisite steps, in the order a first install runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepId {
    Identity,
    Certificates,
    SigningKey,
    Email,
    LoggingBucket,
    BotLayer,
    ConfigFile,
    Parameters,
}

impl StepId {
    pub const ALL: [StepId; 8] = [
        StepId::Identity,
        StepId::Certificates,
        StepId::SigningKey,
        StepId::Email,
        StepId::LoggingBucket,
        StepId::BotLayer,
        StepId::ConfigFile,
        StepId::Parameters,
    ];

    pub fn title(self) -> &'static str {
        match self {
            StepId::Identity => "AWS identity",
            StepId::Certificates => "Certificates",
            StepId::SigningKey => "Signing key",
            StepId::Email => "Email (SES)",
            StepId::LoggingBucket => "Logging bucket",
            StepId::BotLayer => "Bot layer",
            StepId::ConfigFile => "CDK config file",
            StepId::Parameters => "Server parameters",
        }
    }

    /// The name used on the command line and in the journal.
    pub fn as_str(self) -> &'static str {
        match self {
            StepId::Identity => "identity",
            StepId::Certificates => "certificates",
            StepId::SigningKey => "signing_key",
            StepId::Email => "email",
            StepId::LoggingBucket => "logging_bucket",
            StepId::BotLayer => "bot_layer",
            StepId::ConfigFile => "config_file",
            StepId::Parameters => "parameters",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|id| id.as_str() == s.replace('-', "_"))
    }
}

impl std::fmt::Display for StepId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One AWS call a step would make: what a dry run prints and the review screen lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedCall {
    /// Service as in IAM actions: `acm`, `cloudfront`, `ssm`, `ses`, ...
    pub service: String,
    /// API operation, e.g. `RequestCertificate`.
    pub operation: String,
    pub region: String,
    /// The resource the call names (domain, parameter name, key name, ...).
    pub resource: String,
    /// Whether the call changes anything.
    pub write: bool,
    /// When the call happens, if not always ("only if no issued certificate matches").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
}

impl PlannedCall {
    pub fn read(service: &str, operation: &str, region: &str, resource: impl Into<String>) -> Self {
        Self {
            service: service.into(),
            operation: operation.into(),
            region: region.into(),
            resource: resource.into(),
            write: false,
            condition: None,
        }
    }
    pub fn write(
        service: &str,
        operation: &str,
        region: &str,
        resource: impl Into<String>,
    ) -> Self {
        Self {
            write: true,
            ..Self::read(service, operation, region, resource)
        }
    }
    pub fn when(mut self, condition: impl Into<String>) -> Self {
        self.condition = Some(condition.into());
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallStatus {
    Started,
    Ok,
    Failed,
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It changed something.
    Done,
    /// Everything was already as wanted.
    Unchanged,
    /// Not asked for.
    Skipped,
    /// Dry run: planned only.
    Planned,
    /// Needs the user's confirmation (`--yes`) before it writes.
    AwaitingConfirmation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParameterAction {
    Add,
    Change,
    Unchanged,
}

/// One line of the SSM summary. `old`/`new` are display values: `****` for secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParameterChange {
    pub name: String,
    pub action: ParameterAction,
    pub secret: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<String>,
    pub new: String,
    /// SecureString, and Advanced tier for values over 4 KB.
    pub kind: String,
}

/// A DNS record a user may need to create by hand (validation CNAME, DKIM).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsRecord {
    pub name: String,
    pub kind: String,
    pub value: String,
    /// Whether medplum-init wrote it to Route53.
    pub written: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    RunStarted {
        env: String,
        dry_run: bool,
        steps: Vec<StepId>,
    },
    StepStarted {
        step: StepId,
    },
    Planned {
        step: StepId,
        call: PlannedCall,
    },
    AwsCall {
        step: StepId,
        service: String,
        operation: String,
        region: String,
        resource: String,
        status: CallStatus,
        #[serde(skip_serializing_if = "Option::is_none")]
        elapsed_ms: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    Progress {
        step: StepId,
        message: String,
    },
    Warning {
        #[serde(skip_serializing_if = "Option::is_none")]
        step: Option<StepId>,
        message: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        hint: Option<String>,
    },
    Certificate {
        step: StepId,
        /// api, app or storage.
        purpose: String,
        domain: String,
        arn: String,
        region: String,
        status: String,
        records: Vec<DnsRecord>,
    },
    DnsRecords {
        step: StepId,
        records: Vec<DnsRecord>,
    },
    ParameterChanges {
        step: StepId,
        changes: Vec<ParameterChange>,
    },
    FileWritten {
        step: StepId,
        path: String,
    },
    StepFinished {
        step: StepId,
        outcome: Outcome,
        summary: String,
    },
    StepFailed {
        step: StepId,
        error: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        hint: Option<String>,
    },
    RunFinished {
        ok: bool,
        interrupted: bool,
        summary: Vec<String>,
    },
}

/// Where engine code sends events. Cloneable; sending never blocks and never fails (a front end
/// that went away just stops listening).
#[derive(Debug, Clone)]
pub struct EventSink {
    tx: Option<mpsc::UnboundedSender<Event>>,
}

impl EventSink {
    pub fn channel() -> (Self, mpsc::UnboundedReceiver<Event>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self { tx: Some(tx) }, rx)
    }

    /// A sink that drops everything (tests, benchmarks).
    pub fn discard() -> Self {
        Self { tx: None }
    }

    pub fn emit(&self, event: Event) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(event);
        }
    }

    pub fn progress(&self, step: StepId, message: impl Into<String>) {
        self.emit(Event::Progress {
            step,
            message: message.into(),
        });
    }

    pub fn warn(&self, step: StepId, message: impl Into<String>, hint: Option<String>) {
        self.emit(Event::Warning {
            step: Some(step),
            message: message.into(),
            hint,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialise_with_a_tag() {
        let e = Event::StepStarted {
            step: StepId::SigningKey,
        };
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"event":"step_started","step":"signing_key"}"#
        );
    }

    #[test]
    fn step_ids_round_trip() {
        for id in StepId::ALL {
            assert_eq!(StepId::parse(id.as_str()), Some(id));
        }
        assert_eq!(StepId::parse("signing-key"), Some(StepId::SigningKey));
    }
}
