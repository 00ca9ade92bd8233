//! Writes `medplum.<env>.config.json`, the file Medplum's CDK (and medplum-init's deploy engine)
//! reads: the answers' CDK keys plus what the steps produced (account, certificate ARNs, signing
//! key). Keys a user added or edited by hand survive: answers given explicitly win, defaults
//! never overwrite a value already in the file, and external secrets are left in place.

use async_trait::async_trait;
use serde_json::Value;

use crate::config::infra::{ConfigDocument, config_path};
use crate::engine::{Ctx, Event, Outcome, PlannedCall, Step, StepError, StepId};

const ID: StepId = StepId::ConfigFile;

/// Written in a dry run where a value only a real run can know would go.
pub const DRY_RUN_PLACEHOLDER: &str = "<dry run: filled in by a real run>";

pub struct ConfigFile;

/// Builds the document the step would write, from the existing file (if any).
pub fn build(ctx: &Ctx, existing: Option<ConfigDocument>) -> (ConfigDocument, Vec<String>) {
    let mut doc = existing.clone().unwrap_or_default();
    let mut notes = Vec::new();
    let had = |k: &str| existing.as_ref().is_some_and(|d| d.map.contains_key(k));
    for (k, v) in &ctx.answers.cdk {
        let explicit = ctx.answers.given.iter().any(|g| g == k);
        if (explicit || !had(k)) && !doc.set(k, v.clone()) {
            notes.push(format!(
                "{k} is an external secret in the file; left as it is"
            ));
        }
    }
    let out = ctx.outputs.get();
    let mut put =
        |doc: &mut ConfigDocument, key: &str, value: Option<String>, what: &str| match value {
            Some(v) => {
                doc.set(key, Value::String(v));
            }
            None if doc.map.contains_key(key) => {}
            None if ctx.dry_run => {
                doc.set(key, Value::String(DRY_RUN_PLACEHOLDER.into()));
            }
            None => notes.push(format!(
                "{key} is not set ({what}); set it before deploying"
            )),
        };
    put(
        &mut doc,
        "accountNumber",
        out.account.clone(),
        "unknown account",
    );
    put(
        &mut doc,
        "apiSslCertArn",
        out.certificates.get("api").cloned(),
        "certificate skipped",
    );
    put(
        &mut doc,
        "appSslCertArn",
        out.certificates.get("app").cloned(),
        "certificate skipped",
    );
    put(
        &mut doc,
        "storageSslCertArn",
        out.certificates.get("storage").cloned(),
        "certificate skipped",
    );
    match (&out.signing_key_id, &out.public_key_pem) {
        (Some(id), Some(pem)) => {
            doc.set("signingKeyId", Value::String(id.clone()));
            doc.set("storagePublicKey", Value::String(pem.clone()));
        }
        (None, Some(pem)) => {
            // No key id yet (dry run): an empty id makes the CDK register storagePublicKey itself.
            if !doc.map.contains_key("signingKeyId") || ctx.dry_run {
                doc.set("signingKeyId", Value::String(String::new()));
            }
            doc.set("storagePublicKey", Value::String(pem.clone()));
        }
        _ => {}
    }
    (doc, notes)
}

#[async_trait]
impl Step for ConfigFile {
    fn id(&self) -> StepId {
        ID
    }

    fn validate(&self, ctx: &Ctx) -> Result<(), StepError> {
        // A damaged file is the user's to fix: never overwrite what cannot be read.
        ConfigDocument::read(&config_path(&ctx.dir, ctx.env()))?;
        Ok(())
    }

    fn plan(&self, _ctx: &Ctx) -> Vec<PlannedCall> {
        Vec::new()
    }

    async fn dry_run(&self, ctx: &Ctx) -> Result<Outcome, StepError> {
        self.apply(ctx).await.map(|o| {
            if o == Outcome::Done {
                Outcome::Planned
            } else {
                o
            }
        })
    }

    async fn apply(&self, ctx: &Ctx) -> Result<Outcome, StepError> {
        let path = config_path(&ctx.dir, ctx.env());
        let existing = ConfigDocument::read(&path)?;
        let (doc, notes) = build(ctx, existing.clone());
        for n in notes {
            ctx.events.warn(ID, n, None);
        }
        if existing
            .as_ref()
            .is_some_and(|e| e.to_json() == doc.to_json())
        {
            return Ok(Outcome::Unchanged);
        }
        doc.write(&path)?;
        ctx.outputs.update(|o| o.files.push(path.clone()));
        ctx.events.emit(Event::FileWritten {
            step: ID,
            path: path.display().to_string(),
        });
        Ok(Outcome::Done)
    }
}
