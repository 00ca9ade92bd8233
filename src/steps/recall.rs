//! The answers of an installed environment, rebuilt from what its install left in the folder, so
//! a single step can run again months later with no answers file (`medplum-init step`).
//!
//! Two sources, in this order:
//! 1. the answers text the journal keeps (every install run records it, without secret values);
//! 2. the config file, laid over it: the file is what is deployed, and a hand edit of it wins.
//!
//! Values the steps themselves wrote into the file are not turned into answers: a certificate ARN
//! or signing key id the journal records as medplum-init's own stays "found again by the step"
//! (the step's record resumes it), where an answer would mean "the user's own, only check it".
//! Secret server values are never in the journal; a re-run leaves them in Parameter Store as they
//! are, because the parameters step only writes the values it is given.

use std::path::Path;

use serde_json::Value as Json;
use toml::{Table, Value};

use super::certificates;
use super::email;
use super::signing_key::KeyRecord;
use crate::answers::keys::CDK_KEYS;
use crate::answers::{Answers, AnswersInvalid, Overrides};
use crate::config::infra::{ConfigDocument, ConfigFileError, ExternalSecret, config_path};
use crate::engine::journal::ANSWERS_KEY;
use crate::engine::{Journal, JournalError, Outputs, StepId};

/// The certificate ARN keys of the config file, with the purpose the journal records them by.
const CERT_KEYS: [(&str, &str); 3] = [
    ("apiSslCertArn", "api"),
    ("appSslCertArn", "app"),
    ("storageSslCertArn", "storage"),
];

#[derive(Debug, thiserror::Error)]
pub enum RecallError {
    #[error(
        "no {} in {}: this environment has not been installed here",
        crate::config::infra::config_file_name(.env),
        .dir.display()
    )]
    NoConfig {
        env: String,
        dir: std::path::PathBuf,
    },
    #[error(transparent)]
    Config(#[from] ConfigFileError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Invalid(#[from] AnswersInvalid),
    #[error("the answers the journal keeps for {env} are unreadable: {problem}")]
    Damaged { env: String, problem: String },
    #[error(
        "the journal of {env} holds no answers and no support address, so [server] supportEmail is unknown"
    )]
    NoSupportEmail { env: String },
}

impl crate::error::Diagnostic for RecallError {
    fn outcome(&self) -> crate::outcome::Outcome {
        use crate::outcome::Outcome;
        match self {
            RecallError::Journal(e) => e.outcome(),
            RecallError::Config(_) => Outcome::Failed,
            _ => Outcome::Invalid,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            RecallError::NoConfig { .. } => Some(
                "run the install first (`medplum-init`), or pass --dir/--config to the folder that holds it".into(),
            ),
            RecallError::Journal(e) => e.hint(),
            RecallError::Invalid(e) => e.hint(),
            RecallError::Damaged { .. } | RecallError::NoSupportEmail { .. } => Some(
                "pass --answers FILE with the environment's answers (at least name, domainName and [server] supportEmail)".into(),
            ),
            RecallError::Config(_) => None,
        }
    }

    fn json_details(&self) -> Option<Json> {
        match self {
            RecallError::Invalid(e) => e.json_details(),
            _ => None,
        }
    }
}

/// Rebuilt answers, and what they came from (for the plan's first line).
#[derive(Debug)]
pub struct Recalled {
    pub answers: Answers,
    pub sources: Vec<String>,
    pub config: ConfigDocument,
}

/// The answers text for `env` in `dir`, from the journal's copy and the config file, with
/// `given` (an answers file's table, which may name only what changes) laid over both.
pub fn recall_text(
    dir: &Path,
    env: &str,
    journal: &Journal,
    given: Option<&Table>,
) -> Result<(String, Vec<String>, ConfigDocument), RecallError> {
    let path = config_path(dir, env);
    let doc = ConfigDocument::read(&path)?.ok_or_else(|| RecallError::NoConfig {
        env: env.into(),
        dir: dir.into(),
    })?;
    let mut sources = Vec::new();
    let mut table = match journal.extra::<String>(ANSWERS_KEY) {
        Some(text) => {
            sources.push("the journal's answers".to_string());
            toml::from_str::<Table>(&text).map_err(|e| RecallError::Damaged {
                env: env.into(),
                problem: crate::config::validators::escape_controls(&e.to_string(), 240),
            })?
        }
        None => Table::new(),
    };
    sources.push(
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    );

    let recorded_certs: std::collections::BTreeMap<String, String> = journal
        .data::<certificates::Record>(StepId::Certificates)?
        .map(|r| {
            r.certificates
                .into_iter()
                .map(|(purpose, c)| (purpose, c.arn))
                .collect()
        })
        .unwrap_or_default();
    let recorded_key = journal
        .data::<KeyRecord>(StepId::SigningKey)?
        .and_then(|r| r.key_id);

    for (key, value) in &doc.map {
        if !CDK_KEYS.iter().any(|k| k.key == key) || ExternalSecret::from_value(value).is_some() {
            continue;
        }
        // Empty strings are how Medplum's init writes "unset" (signingKeyId, vpcId, ...).
        if value.is_null() || value.as_str() == Some("") {
            continue;
        }
        if let Some((_, purpose)) = CERT_KEYS.iter().find(|(k, _)| k == key) {
            if recorded_certs.get(*purpose).map(String::as_str) == value.as_str() {
                continue;
            }
            // The user's own certificate: it replaces whatever choice the journal recorded.
            if let Some(Value::Table(c)) = table.get_mut("certificates") {
                c.remove(*purpose);
            }
        }
        if key == "signingKeyId" || key == "storagePublicKey" {
            let file_id = doc.get_str("signingKeyId").filter(|s| !s.is_empty());
            if file_id.is_none() || file_id == recorded_key.as_deref() {
                continue;
            }
        }
        if let Some(v) = to_toml(value) {
            table.insert(key.clone(), v);
        }
    }
    if let Some(given) = given {
        // A certificate choice given now replaces the ARN the file holds for it.
        if let Some(Value::Table(c)) = given.get("certificates") {
            for (key, purpose) in CERT_KEYS {
                if c.contains_key(purpose) && !given.contains_key(key) {
                    table.remove(key);
                }
            }
        }
        merge(&mut table, given);
    }
    table.insert("name".into(), Value::String(env.into()));

    let has_email =
        matches!(table.get("server"), Some(Value::Table(s)) if s.contains_key("supportEmail"));
    if !has_email {
        // A journal older than recorded answers: the email step's record names the address.
        let address = journal
            .data::<email::Record>(StepId::Email)?
            .filter(|r| r.kind == "address")
            .map(|r| r.identity);
        let Some(address) = address else {
            return Err(RecallError::NoSupportEmail { env: env.into() });
        };
        let server = table
            .entry("server")
            .or_insert_with(|| Value::Table(Table::new()));
        if let Value::Table(s) = server {
            s.insert("supportEmail".into(), Value::String(address));
        }
    }
    // The command confirms (or --yes) for itself: the recorded consents do not carry over.
    table.remove("parameters");
    table.remove("deploy");
    let text = toml::to_string(&table).expect("answers tables serialise");
    Ok((text, sources, doc))
}

/// An answers file given to `step`: its text, and its name for messages.
#[derive(Debug, Clone, Copy)]
pub struct Given<'a> {
    pub text: &'a str,
    pub source: &'a str,
}

/// [`recall_text`], validated as an answers file would be. A `given` file is checked for its
/// syntax on its own (errors name its lines); the merged answers are then checked as a whole,
/// and their errors name keys only, since their lines are in no file.
pub fn recall(
    dir: &Path,
    env: &str,
    journal: &Journal,
    overrides: &Overrides,
    given: Option<Given<'_>>,
) -> Result<Recalled, RecallError> {
    let given_table = match given {
        Some(g) => {
            crate::answers::source::parse(g.text)
                .map_err(|errors| AnswersInvalid::new(g.source, errors))?;
            Some(
                toml::from_str::<Table>(g.text).map_err(|e| RecallError::Damaged {
                    env: env.into(),
                    problem: crate::config::validators::escape_controls(&e.to_string(), 240),
                })?,
            )
        }
        None => None,
    };
    let (text, mut sources, config) = recall_text(dir, env, journal, given_table.as_ref())?;
    if let Some(g) = given {
        sources.push(g.source.to_string());
    }
    let origin = format!("the answers from {}", sources.join(", "));
    let answers = Answers::from_toml(&text, &origin, overrides).map_err(|mut e| {
        for err in &mut e.errors {
            err.line = None;
        }
        e
    })?;
    Ok(Recalled {
        answers,
        sources,
        config,
    })
}

/// What the steps that do not run this time would have produced, from the config file they
/// wrote: the account, the certificate ARNs and the signing key. A step that runs replaces its
/// own values; the others keep what is installed (so the parameters step still writes the
/// installed `signingKeyId`, and the config step keeps the file's ARNs).
pub fn seed_outputs(outputs: &Outputs, doc: &ConfigDocument) {
    let s = |k: &str| {
        doc.get_str(k)
            .filter(|v| !v.is_empty() && *v != super::config_file::DRY_RUN_PLACEHOLDER)
            .map(str::to_string)
    };
    outputs.update(|o| {
        o.account = s("accountNumber");
        for (key, purpose) in CERT_KEYS {
            if let Some(arn) = s(key) {
                o.certificates.insert(purpose.into(), arn);
            }
        }
        if let (Some(id), Some(pem)) = (s("signingKeyId"), s("storagePublicKey")) {
            o.signing_key_id = Some(id);
            o.public_key_pem = Some(pem);
        }
    });
}

/// Lays `over` onto `base`: tables merge key by key, anything else replaces.
fn merge(base: &mut Table, over: &Table) {
    for (k, v) in over {
        match (base.get_mut(k), v) {
            (Some(Value::Table(b)), Value::Table(o)) => merge(b, o),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

/// A config value as TOML; `None` for what TOML cannot hold (null).
fn to_toml(v: &Json) -> Option<Value> {
    Some(match v {
        Json::Null => return None,
        Json::Bool(b) => Value::Boolean(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None => Value::Float(n.as_f64()?),
        },
        Json::String(s) => Value::String(s.clone()),
        Json::Array(a) => Value::Array(a.iter().filter_map(to_toml).collect()),
        Json::Object(o) => Value::Table(
            o.iter()
                .filter_map(|(k, v)| Some((k.clone(), to_toml(v)?)))
                .collect(),
        ),
    })
}

#[cfg(test)]
#[path = "recall_tests.rs"]
mod tests;
