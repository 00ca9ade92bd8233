//! The server config in Parameter Store, `/medplum/<env>/<key>`: the values init derives (port,
//! URLs, bucket, support address, signing key id) and every `[server]` answer.
//!
//! Compare before write: the step reads the path once, shows add / change / unchanged with
//! secrets masked, and writes only what differs, as SecureString (Medplum's own choice), in the
//! Advanced tier when a value is over 4 KB. Headless runs write only with `--yes` or
//! `[parameters] apply = true`. Names the CloudFormation stack creates are never written.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::ssm;
use crate::config::{derive, server};
use crate::crypto::Secret;
use crate::engine::{
    Ctx, Event, Outcome, ParameterAction, ParameterChange, PlannedCall, Step, StepError, StepId,
};

const ID: StepId = StepId::Parameters;
pub const MASK: &str = "****";

pub struct Parameters;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Record {
    /// Parameter name to the version medplum-init wrote.
    pub written: BTreeMap<String, i64>,
    /// Names about to be written, journaled before each PutParameter: a run killed between
    /// SSM's answer and the journal's write leaves the name here, and the next run, finding our
    /// value in place, records it as written instead of forgetting it was ours.
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub writing: std::collections::BTreeSet<String>,
}

/// One parameter the step wants in place.
#[derive(Debug, Clone)]
pub struct Desired {
    pub key: String,
    pub value: Secret,
    pub secret: bool,
}

/// The parameters to write, keyed by server key, in a stable order: derived ones first, then the
/// `[server]` answers in file order.
pub fn desired(ctx: &Ctx) -> Vec<Desired> {
    let a = &ctx.answers;
    let mut out: Vec<Desired> = Vec::new();
    let mut push = |key: &str, value: String| {
        if out.iter().all(|d| d.key != key) {
            out.push(Desired {
                key: key.into(),
                secret: server::is_secret(key),
                value: Secret::new(value),
            });
        }
    };
    push("port", a.api_port().to_string());
    push("baseUrl", derive::https_base(a.api_domain()));
    push("appBaseUrl", derive::https_base(a.app_domain()));
    push(
        "storageBaseUrl",
        derive::storage_base_url(a.storage_domain()),
    );
    push("binaryStorage", derive::binary_storage(a.storage_bucket()));
    push("supportEmail", a.support_email().to_string());
    if let Some(id) = ctx.outputs.get().signing_key_id {
        push("signingKeyId", id);
    }
    for (k, v) in &a.server {
        push(k, v.expose().to_string());
    }
    debug_assert!(
        out.iter()
            .all(|d| !server::stack_owned().any(|o| o == d.key))
    );
    out
}

/// Compares wanted and current values; display values of secrets are masked.
pub fn diff(
    env: &str,
    wanted: &[Desired],
    current: &BTreeMap<String, ssm::Current>,
) -> Vec<ParameterChange> {
    wanted
        .iter()
        .map(|d| {
            let name = server::parameter_name(env, &d.key);
            let show = |v: &str| {
                if d.secret {
                    MASK.to_string()
                } else {
                    v.to_string()
                }
            };
            let tier = if d.value.len() > ssm::STANDARD_LIMIT {
                "SecureString, Advanced tier"
            } else {
                "SecureString"
            };
            let (action, old) = match current.get(&name) {
                None => (ParameterAction::Add, None),
                Some(c) if c.value == d.value && c.kind == "SecureString" => {
                    (ParameterAction::Unchanged, None)
                }
                Some(c) if c.value == d.value => (
                    ParameterAction::Change,
                    Some(format!("{} ({})", show(c.value.expose()), c.kind)),
                ),
                Some(c) => (ParameterAction::Change, Some(show(c.value.expose()))),
            };
            ParameterChange {
                name,
                action,
                secret: d.secret,
                old,
                new: show(d.value.expose()),
                kind: tier.into(),
            }
        })
        .collect()
}

#[async_trait]
impl Step for Parameters {
    fn id(&self) -> StepId {
        ID
    }

    fn validate(&self, ctx: &Ctx) -> Result<(), StepError> {
        super::refuse_during_rotation(ctx)
    }

    fn plan(&self, ctx: &Ctx) -> Vec<PlannedCall> {
        let r = ctx.region();
        let mut calls = vec![PlannedCall::read(
            "ssm",
            "GetParametersByPath",
            r,
            server::parameter_path(ctx.env()),
        )];
        let mut keys: Vec<String> = desired(ctx).into_iter().map(|d| d.key).collect();
        if !keys.iter().any(|k| k == "signingKeyId") {
            keys.push("signingKeyId".into());
        }
        for k in keys {
            calls.push(
                PlannedCall::write(
                    "ssm",
                    "PutParameter",
                    r,
                    format!("{} (SecureString)", server::parameter_name(ctx.env(), &k)),
                )
                .when("when missing or different"),
            );
        }
        calls
    }

    async fn apply(&self, ctx: &Ctx) -> Result<Outcome, StepError> {
        let wanted = desired(ctx);
        if !wanted.iter().any(|d| d.key == "signingKeyId") {
            ctx.events.warn(
                ID,
                "no signing key id is known; signingKeyId is not written",
                Some("run the signing_key step first".into()),
            );
        }
        let path = server::parameter_path(ctx.env());
        let current = ssm::get_path(ctx, ID, &path).await?;
        let changes = diff(ctx.env(), &wanted, &current);
        ctx.events.emit(Event::ParameterChanges {
            step: ID,
            changes: changes.clone(),
        });
        let pending: Vec<(String, i64)> = ctx
            .journal
            .data::<Record>(ID)?
            .unwrap_or_default()
            .writing
            .into_iter()
            .filter_map(|name| {
                let unchanged = changes
                    .iter()
                    .any(|c| c.name == name && c.action == ParameterAction::Unchanged);
                let version = current.get(&name)?.version;
                unchanged.then_some((name, version))
            })
            .collect();
        if !pending.is_empty() {
            ctx.journal.update::<Record, _>(ID, |r| {
                for (name, version) in pending {
                    r.writing.remove(&name);
                    r.written.insert(name, version);
                }
            })?;
        }
        let todo: Vec<(&Desired, &ParameterChange)> = wanted
            .iter()
            .zip(&changes)
            .filter(|(_, c)| c.action != ParameterAction::Unchanged)
            .collect();
        if todo.is_empty() {
            return Ok(Outcome::Unchanged);
        }
        if !(ctx.yes || ctx.answers.apply_parameters) {
            ctx.events.warn(
                ID,
                format!("{} parameter(s) not written yet", todo.len()),
                Some("re-run with --yes (or set [parameters] apply = true) to write them".into()),
            );
            return Ok(Outcome::AwaitingConfirmation);
        }
        for (d, c) in todo {
            ctx.check_cancel()?;
            ctx.journal.update::<Record, _>(ID, |r| {
                r.writing.insert(c.name.clone());
            })?;
            let version = ssm::put_secure(
                ctx,
                ID,
                &c.name,
                &d.value,
                c.action == ParameterAction::Change,
            )
            .await?;
            ctx.journal.update::<Record, _>(ID, |r| {
                r.writing.remove(&c.name);
                r.written.insert(c.name.clone(), version);
            })?;
        }
        Ok(Outcome::Done)
    }

    async fn verify(&self, ctx: &Ctx) -> Result<(), StepError> {
        let wanted = desired(ctx);
        let current = ssm::get_path(ctx, ID, &server::parameter_path(ctx.env())).await?;
        let off: Vec<String> = diff(ctx.env(), &wanted, &current)
            .into_iter()
            .filter(|c| c.action != ParameterAction::Unchanged)
            .map(|c| c.name)
            .collect();
        if !off.is_empty() {
            return Err(StepError::failed(
                format!("parameters differ after writing: {}", off.join(", ")),
                None,
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cur(v: &str, kind: &str) -> ssm::Current {
        ssm::Current {
            value: Secret::new(v.into()),
            kind: kind.into(),
            version: 1,
        }
    }

    #[test]
    fn diff_masks_secrets_and_flags_type_changes() {
        let wanted = vec![
            Desired {
                key: "baseUrl".into(),
                value: Secret::new("https://api.example.com/".into()),
                secret: false,
            },
            Desired {
                key: "signingKey".into(),
                value: Secret::new("PRIVATE".into()),
                secret: true,
            },
            Desired {
                key: "port".into(),
                value: Secret::new("8103".into()),
                secret: false,
            },
            Desired {
                key: "supportEmail".into(),
                value: Secret::new("a@example.com".into()),
                secret: false,
            },
        ];
        let mut current = BTreeMap::new();
        current.insert(
            "/medplum/x/baseUrl".to_string(),
            cur("https://api.example.com/", "SecureString"),
        );
        current.insert(
            "/medplum/x/signingKey".to_string(),
            cur("OLD-PRIVATE", "SecureString"),
        );
        current.insert("/medplum/x/port".to_string(), cur("8103", "String"));
        let d = diff("x", &wanted, &current);
        assert_eq!(d[0].action, ParameterAction::Unchanged);
        assert_eq!(d[1].action, ParameterAction::Change);
        assert_eq!((d[1].old.as_deref(), d[1].new.as_str()), (Some(MASK), MASK));
        assert_eq!(d[2].action, ParameterAction::Change);
        assert_eq!(d[2].old.as_deref(), Some("8103 (String)"));
        assert_eq!(d[3].action, ParameterAction::Add);
        assert!(!format!("{d:?}").contains("PRIVATE"));
    }
}
