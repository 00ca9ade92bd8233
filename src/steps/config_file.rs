//! Writes `medplum.<env>.config.json`, the file Medplum's CDK (and medplum-init's deploy engine)
//! reads: the answers' CDK keys plus what the steps produced (account, certificate ARNs, signing
//! key). Keys a user added or edited by hand survive: answers given explicitly win, defaults
//! never overwrite a value already in the file, and external secrets are left in place.
//!
//! `hostedZoneName` is written when the Route53 zone the steps use is not the one Medplum's CDK
//! would guess from `domainName` (its last two labels): without it the official CDK would look up
//! `co.uk`, or the parent of a delegated sub-zone, and fail or put the records in the wrong zone.
//! When the guess is right the key is left out, so such configs stay as Medplum writes them.

use async_trait::async_trait;
use serde_json::Value;

use super::dns;
use crate::config::US_EAST_1;
use crate::config::derive::needs_hosted_zone_name;
use crate::config::infra::{ConfigDocument, ExternalSecret, config_file_name, config_path};
use crate::config::validators::is_within;
use crate::engine::journal::{dry_run_dir, prepare_state_dir};
use crate::engine::{Ctx, Event, Outcome, PlannedCall, Step, StepError, StepId};

const ID: StepId = StepId::ConfigFile;

const HOSTED_ZONE_NAME: &str = "hostedZoneName";

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
    if !ctx.answers.skip_dns() && ctx.answers.hosted_zone_name().is_none() {
        // An explicit hostedZoneName came in with the answers' CDK keys above.
        if let Some((_, zone)) = &out.hosted_zone {
            put_hosted_zone(&mut doc, ctx.answers.domain(), zone, &mut notes);
        }
    }
    (doc, notes)
}

/// Names `zone` as `hostedZoneName` when Medplum's CDK would not find it by itself. A value
/// already in the file is the user's (or an earlier run's) and is kept while it holds the domain;
/// one that does not hold it would send the CDK to a zone where the records cannot go.
fn put_hosted_zone(doc: &mut ConfigDocument, domain: &str, zone: &str, notes: &mut Vec<String>) {
    let needed = needs_hosted_zone_name(domain, zone);
    match doc.map.get(HOSTED_ZONE_NAME) {
        None if needed => {
            doc.set(HOSTED_ZONE_NAME, Value::String(zone.to_string()));
        }
        None => {}
        Some(v) if ExternalSecret::from_value(v).is_some() => {}
        Some(Value::String(have)) if is_within(domain, have) && have != zone => {
            notes.push(format!(
                "hostedZoneName in the file is {have}, but the DNS records went to the zone {zone}; \
                 Medplum's CDK will use {have}"
            ));
        }
        Some(Value::String(have)) if is_within(domain, have) => {}
        Some(have) => {
            let have = have
                .as_str()
                .map_or_else(|| have.to_string(), str::to_string);
            if needed {
                doc.set(HOSTED_ZONE_NAME, Value::String(zone.to_string()));
                notes.push(format!(
                    "hostedZoneName {have} does not hold {domain}; replaced with {zone}"
                ));
            } else {
                doc.map.remove(HOSTED_ZONE_NAME);
                notes.push(format!(
                    "hostedZoneName {have} does not hold {domain}; removed (the CDK finds {zone} by itself)"
                ));
            }
        }
    }
}

/// Looks up the zone holding `domainName` when no earlier step did (every certificate reused or
/// skipped, no domain identity): the file cannot say which zone the CDK must use without it.
/// A failure only costs `hostedZoneName`, so it is a warning, not the end of the step.
async fn find_zone(ctx: &Ctx) {
    if ctx.aws.is_none()
        || ctx.answers.skip_dns()
        || ctx.answers.hosted_zone_name().is_some()
        || ctx.outputs.get().hosted_zone.is_some()
    {
        return;
    }
    let domain = ctx.answers.domain();
    if let Err(e) = dns::zone_for(ctx, ID, domain).await {
        ctx.events.warn(
            ID,
            format!(
                "could not look up the hosted zone of {domain}: {e}; hostedZoneName not checked"
            ),
            Some(
                "allow route53:ListHostedZones, or set hostedZoneName in the answers when the \
                 zone is not the last two labels of domainName"
                    .into(),
            ),
        );
    }
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
        super::refuse_during_rotation(ctx)?;
        // A damaged file is the user's to fix: never overwrite what cannot be read.
        let path = config_path(&ctx.dir, ctx.env());
        if let Some(doc) = ConfigDocument::read(&path)? {
            check_kept_values(ctx, &doc, &path)?;
        }
        Ok(())
    }

    fn plan(&self, ctx: &Ctx) -> Vec<PlannedCall> {
        if ctx.answers.skip_dns() || ctx.answers.hosted_zone_name().is_some() {
            return Vec::new();
        }
        vec![
            PlannedCall::read(
                "route53",
                "ListHostedZones",
                US_EAST_1,
                format!("the zone holding {} (hostedZoneName)", ctx.answers.domain()),
            )
            .when("unless an earlier step looked it up"),
        ]
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
        find_zone(ctx).await;
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn with(zone: Option<&str>) -> ConfigDocument {
        let mut doc = ConfigDocument::default();
        doc.set("domainName", json!("staging.example.com"));
        if let Some(z) = zone {
            doc.set(HOSTED_ZONE_NAME, json!(z));
        }
        doc
    }

    fn put(doc: &mut ConfigDocument, domain: &str, zone: &str) -> Vec<String> {
        let mut notes = Vec::new();
        put_hosted_zone(doc, domain, zone, &mut notes);
        notes
    }

    #[test]
    fn written_only_when_the_cdk_would_guess_another_zone() {
        let mut doc = with(None);
        assert!(put(&mut doc, "staging.example.com", "staging.example.com").is_empty());
        assert_eq!(doc.get_str(HOSTED_ZONE_NAME), Some("staging.example.com"));
        // Next to domainName in the written order.
        let text = doc.to_json();
        assert!(text.find("\"domainName\"").unwrap() < text.find("\"hostedZoneName\"").unwrap());

        let mut doc = with(None);
        assert!(put(&mut doc, "staging.example.com", "example.com").is_empty());
        assert_eq!(doc, with(None), "the CDK's guess is right: nothing added");
    }

    #[test]
    fn a_value_in_the_file_is_kept_while_it_holds_the_domain() {
        let mut doc = with(Some("example.com"));
        let notes = put(&mut doc, "staging.example.com", "staging.example.com");
        assert_eq!(doc.get_str(HOSTED_ZONE_NAME), Some("example.com"));
        assert!(
            notes[0].contains("Medplum's CDK will use example.com"),
            "{notes:?}"
        );

        let secret = json!({"system": "aws_ssm_parameter_store", "key": "/z", "type": "string"});
        let mut doc = with(None);
        doc.map.insert(HOSTED_ZONE_NAME.into(), secret.clone());
        assert!(put(&mut doc, "staging.example.com", "staging.example.com").is_empty());
        assert_eq!(doc.map[HOSTED_ZONE_NAME], secret);
    }

    #[test]
    fn a_value_that_does_not_hold_the_domain_is_replaced_or_removed() {
        let mut doc = with(Some("other.org"));
        let notes = put(&mut doc, "staging.example.com", "staging.example.com");
        assert_eq!(doc.get_str(HOSTED_ZONE_NAME), Some("staging.example.com"));
        assert!(notes[0].contains("replaced"), "{notes:?}");

        let mut doc = with(Some("other.org"));
        let notes = put(&mut doc, "staging.example.com", "example.com");
        assert!(!doc.map.contains_key(HOSTED_ZONE_NAME));
        assert!(notes[0].contains("removed"), "{notes:?}");
    }
}
