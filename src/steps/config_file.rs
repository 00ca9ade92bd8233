//! Writes `medplum.<env>.config.json`, the file Medplum's CDK (and medplum-init's deploy engine)
//! reads: the answers' CDK keys plus what the steps produced (account, certificate ARNs, signing
//! key). Keys a user added or edited by hand survive: answers given explicitly win, defaults
//! never overwrite a value already in the file, and external secrets are left in place.

use async_trait::async_trait;
use serde_json::Value;

use crate::config::infra::{ConfigDocument, config_file_name, config_path};
use crate::engine::journal::{dry_run_dir, prepare_state_dir};
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
        // A dry run's throwaway key never replaces a key the file already holds: only a real
        // run can tell which key SSM has.
        (None, Some(_))
            if ctx.dry_run
                && ["signingKeyId", "storagePublicKey"]
                    .iter()
                    .any(|k| doc.get_str(k).is_some_and(|s| !s.is_empty())) => {}
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

/// Values the file keeps (those the answers do not give) get the answers' checks: a
/// hand-edited `region = "mars-1"` is refused here, before any AWS call, not deployed.
fn check_kept_values(
    ctx: &Ctx,
    doc: &ConfigDocument,
    path: &std::path::Path,
) -> Result<(), StepError> {
    // Placeholders of an older dry run are replaced by this run, not kept.
    let mut kept = doc.map.clone();
    kept.retain(|_, v| v.as_str() != Some(DRY_RUN_PLACEHOLDER));
    let file = path.display().to_string();
    let errors = ctx.answers.check_config_file(&kept, &file);
    let Some(first) = errors.first() else {
        return Ok(());
    };
    let mut problem = format!(
        "{file} holds {} value(s) medplum-init cannot use:",
        errors.len()
    );
    for e in errors.iter().take(crate::answers::MAX_REPORTED_ERRORS) {
        problem.push_str(&format!("\n  {}: {}", e.key, e.problem));
    }
    if errors.len() > crate::answers::MAX_REPORTED_ERRORS {
        problem.push_str(&format!(
            "\n  ...and {} more",
            errors.len() - crate::answers::MAX_REPORTED_ERRORS
        ));
    }
    Err(StepError::invalid(problem, first.fix.clone()))
}

#[async_trait]
impl Step for ConfigFile {
    fn id(&self) -> StepId {
        ID
    }

    fn validate(&self, ctx: &Ctx) -> Result<(), StepError> {
        // A damaged file is the user's to fix: never overwrite what cannot be read.
        let path = config_path(&ctx.dir, ctx.env());
        if let Some(doc) = ConfigDocument::read(&path)? {
            check_kept_values(ctx, &doc, &path)?;
        }
        Ok(())
    }

    fn plan(&self, _ctx: &Ctx) -> Vec<PlannedCall> {
        Vec::new()
    }

    /// The file a run would write, written beside the journal for review
    /// (`.medplum-init/<env>/dry-run/`): a dry run changes no existing file, and its placeholders
    /// and throwaway key never land where the CDK or a deploy would read them.
    async fn dry_run(&self, ctx: &Ctx) -> Result<Outcome, StepError> {
        let path = config_path(&ctx.dir, ctx.env());
        let existing = ConfigDocument::read(&path)?;
        let (doc, notes) = build(ctx, existing);
        for n in notes {
            ctx.events.warn(ID, n, None);
        }
        prepare_state_dir(&ctx.dir, ctx.env())?;
        let out_dir = dry_run_dir(&ctx.dir, ctx.env());
        crate::fsutil::ensure_private_dir(&out_dir).map_err(|source| {
            crate::engine::JournalError::StateDir {
                path: out_dir.clone(),
                source,
            }
        })?;
        let out = out_dir.join(config_file_name(ctx.env()));
        doc.write(&out)?;
        ctx.events.emit(Event::FileWritten {
            step: ID,
            path: out.display().to_string(),
        });
        Ok(Outcome::Planned)
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
