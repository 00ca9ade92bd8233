//! What re-running one step would change, read off a [`Preview`]: the lines `medplum-init step`
//! shows before it asks, and whether there is anything to confirm at all. Plain text and a JSON
//! form; secrets arrive here already masked.

use serde::Serialize;

use super::preview::{CertAction, KeyPlan, LineChange, Preview};
use crate::engine::{ParameterAction, StepId};

/// One line of a step's plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanLine {
    /// `+` add or create, `~` change, `=` stays as it is.
    pub mark: char,
    pub text: String,
}

impl PlanLine {
    fn new(mark: char, text: impl Into<String>) -> Self {
        Self {
            mark,
            text: text.into(),
        }
    }
}

/// A step's plan: its lines, and whether any of them changes something.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepPlan {
    pub step: StepId,
    pub lines: Vec<PlanLine>,
    pub changes: bool,
}

impl StepPlan {
    /// The plan as text: a heading, then one marked line each.
    pub fn text(&self) -> String {
        let mut out = format!(
            "{}: {}\n",
            self.step,
            if self.changes {
                "changes"
            } else {
                "nothing to change"
            }
        );
        for l in &self.lines {
            out.push_str(&format!("  {} {}\n", l.mark, l.text));
        }
        out
    }
}

/// The plan of `step` in `p`. `bot_layer` says what the bot layer step would do (its look-up is
/// not part of the preview): `Some(true)` publishes a new version.
pub fn describe(p: &Preview, step: StepId, bot_layer: Option<bool>) -> StepPlan {
    let mut lines = Vec::new();
    match step {
        StepId::Identity => {}
        StepId::Certificates => {
            for c in &p.certificates {
                let (mark, what) = match &c.action {
                    CertAction::Request => ('+', "request a certificate, DNS validated".into()),
                    CertAction::Reuse { arn } => ('=', format!("reuse {arn}")),
                    CertAction::Resume { arn, status } => ('=', format!("keep {arn} ({status})")),
                    CertAction::Given { arn } => ('=', format!("use {arn}")),
                    CertAction::Skip => ('=', "skipped".into()),
                };
                lines.push(PlanLine::new(
                    mark,
                    format!("{} {} ({}): {what}", c.purpose, c.domain, c.region),
                ));
            }
        }
        StepId::SigningKey => lines.push(match &p.signing_key {
            KeyPlan::Generate => PlanLine::new(
                '+',
                "generate an RSA-2048 key; private half and passphrase to SSM, public half to CloudFront",
            ),
            KeyPlan::InSsm => PlanLine::new(
                '~',
                "keep the key SSM holds; register its public half in CloudFront if it is missing",
            ),
            KeyPlan::Recorded { id } => {
                PlanLine::new('=', format!("keep CloudFront key {id}, checked against SSM"))
            }
            KeyPlan::Given { id } => PlanLine::new('=', format!("use CloudFront key {id}")),
        }),
        StepId::Email => lines.push(match &p.email {
            None => PlanLine::new('=', "no SES identity (email identity = \"skip\")"),
            Some(e) => PlanLine::new(if e.exists { '=' } else { '+' }, e.summary()),
        }),
        StepId::LoggingBucket => lines.push(match &p.logging_bucket {
            None => PlanLine::new('=', "no log bucket to create"),
            Some(b) if b.exists => PlanLine::new(
                '=',
                format!("{} exists; its policy is checked and fixed if needed", b.name),
            ),
            Some(b) => PlanLine::new(
                '+',
                format!("create {} (private, encrypted, ELB may write)", b.name),
            ),
        }),
        StepId::BotLayer => lines.push(match bot_layer {
            None => PlanLine::new('=', "no bot layer zip in the answers"),
            Some(true) => PlanLine::new('+', "publish a new version of the bot layer"),
            Some(false) => PlanLine::new('=', "the newest layer version holds this zip"),
        }),
        StepId::ConfigFile => {
            for l in &p.config {
                let value = shown(&l.value);
                lines.push(match &l.change {
                    LineChange::Added => PlanLine::new('+', format!("{} = {value}", l.key)),
                    LineChange::Changed { old } => PlanLine::new(
                        '~',
                        format!("{} = {value} (was {})", l.key, shown(old)),
                    ),
                    LineChange::Same => continue,
                });
            }
            let same = p
                .config
                .iter()
                .filter(|l| l.change == LineChange::Same)
                .count();
            lines.push(PlanLine::new(
                '=',
                format!("{same} other keys of {} unchanged", p.config_path.display()),
            ));
        }
        StepId::Parameters => {
            for c in &p.parameters {
                let mark = match c.action {
                    ParameterAction::Add => '+',
                    ParameterAction::Change => '~',
                    ParameterAction::Unchanged => continue,
                };
                let mut text = format!("{} = {}", c.name, c.new);
                if let Some(old) = &c.old {
                    text.push_str(&format!(" (was {old})"));
                }
                lines.push(PlanLine::new(mark, text));
            }
            let (_, _, same) = p.parameter_counts();
            lines.push(PlanLine::new(
                '=',
                format!("{same} other parameters unchanged; secrets not in the journal are left as they are"),
            ));
        }
    }
    let changes = lines.iter().any(|l| l.mark != '=');
    StepPlan {
        step,
        lines,
        changes,
    }
}

/// A config value as a line shows it: a PEM by its first line and length.
fn shown(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) if s.starts_with("-----BEGIN") => format!(
            "\"{}…\" ({} chars)",
            s.lines().next().unwrap_or(""),
            s.len()
        ),
        v => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ParameterChange;
    use crate::steps::preview::{BucketPlan, ConfigLine};

    fn preview() -> Preview {
        Preview {
            account: Some("123456789012".into()),
            caller_arn: None,
            certificates: Vec::new(),
            signing_key: KeyPlan::Recorded { id: "K2".into() },
            email: None,
            logging_bucket: Some(BucketPlan {
                name: "logs".into(),
                exists: true,
            }),
            parameters: vec![
                ParameterChange {
                    name: "/medplum/prod/port".into(),
                    action: ParameterAction::Unchanged,
                    secret: false,
                    old: None,
                    new: "8103".into(),
                    kind: "SecureString".into(),
                },
                ParameterChange {
                    name: "/medplum/prod/supportEmail".into(),
                    action: ParameterAction::Change,
                    secret: false,
                    old: Some("old@example.org".into()),
                    new: "new@example.org".into(),
                    kind: "SecureString".into(),
                },
            ],
            config_path: "medplum.prod.config.json".into(),
            config_exists: true,
            config: vec![ConfigLine {
                key: "apiPort".into(),
                value: serde_json::json!(8103),
                change: LineChange::Same,
            }],
            notes: Vec::new(),
        }
    }

    #[test]
    fn only_what_differs_is_a_change() {
        let p = preview();
        let params = describe(&p, StepId::Parameters, None);
        assert!(params.changes);
        assert_eq!(params.lines[0].mark, '~');
        assert!(params.text().contains("(was old@example.org)"));
        assert!(params.text().contains("1 other parameters unchanged"));
        for step in [
            StepId::SigningKey,
            StepId::LoggingBucket,
            StepId::ConfigFile,
        ] {
            let plan = describe(&p, step, None);
            assert!(!plan.changes, "{}", plan.text());
        }
        assert!(describe(&p, StepId::BotLayer, Some(true)).changes);
        assert!(!describe(&p, StepId::BotLayer, Some(false)).changes);
    }
}
