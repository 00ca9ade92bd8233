//! The answers model: what the user wants, from an answers file (headless), the TUI or the line
//! prompts. All three produce TOML text that goes through [`Answers::from_toml`], so every front
//! end applies the same parsing, defaults and validation, and reports every problem at once.

pub mod keys;
pub mod source;
pub mod template;
mod validate;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};

use crate::config::{derive, validators};
use crate::crypto::Secret;

/// One problem with one answer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AnswerError {
    /// The key as written in the file, with its table: `apiPort`, `server.supportEmail`.
    pub key: String,
    /// 1-based line in the answers file, when the key is in it.
    pub line: Option<usize>,
    pub problem: String,
    pub fix: String,
}

impl AnswerError {
    pub fn new(
        key: impl Into<String>,
        line: Option<usize>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            key: key.into(),
            line,
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}

impl std::fmt::Display for AnswerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "line {l}: {}: {}", self.key, self.problem)?,
            None => write!(f, "{}: {}", self.key, self.problem)?,
        }
        write!(f, "\n    fix: {}", self.fix)
    }
}

/// Every problem found in one answers source.
#[derive(Debug, thiserror::Error)]
pub struct AnswersInvalid {
    pub origin: String,
    pub errors: Vec<AnswerError>,
}

/// How many problems are shown; a file with more gets "and N more" instead of a flood.
pub const MAX_REPORTED_ERRORS: usize = 20;
/// Longest problem or fix shown; values echoed inside them are user input.
const MAX_MESSAGE_CHARS: usize = 240;

impl AnswersInvalid {
    /// Every message made terminal-safe: the keys, problems and fixes quote what the file says,
    /// so control characters are escaped and long values cut (see [`validators::shown`]).
    pub fn new(origin: impl Into<String>, errors: Vec<AnswerError>) -> Self {
        let clean = |s: &str, max| validators::escape_controls(s, max);
        Self {
            origin: clean(&origin.into(), 400),
            errors: errors
                .into_iter()
                .map(|e| AnswerError {
                    key: clean(&e.key, validators::SHOWN_MAX_CHARS),
                    line: e.line,
                    problem: clean(&e.problem, MAX_MESSAGE_CHARS),
                    fix: clean(&e.fix, MAX_MESSAGE_CHARS),
                })
                .collect(),
        }
    }

    /// The problems to report, at most [`MAX_REPORTED_ERRORS`], and how many were left out.
    pub fn reported(&self) -> (&[AnswerError], usize) {
        let n = self.errors.len().min(MAX_REPORTED_ERRORS);
        (&self.errors[..n], self.errors.len() - n)
    }
}

impl std::fmt::Display for AnswersInvalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.errors.len();
        writeln!(
            f,
            "{} has {n} problem{}:",
            self.origin,
            if n == 1 { "" } else { "s" }
        )?;
        let (shown, more) = self.reported();
        for e in shown {
            writeln!(f, "  {}", e.to_string().replace('\n', "\n  "))?;
        }
        if more > 0 {
            writeln!(f, "  ...and {more} more (fix the ones above first)")?;
        }
        Ok(())
    }
}

impl crate::error::Diagnostic for AnswersInvalid {
    fn outcome(&self) -> crate::outcome::Outcome {
        crate::outcome::Outcome::Invalid
    }

    fn hint(&self) -> Option<String> {
        Some("fix the problems above; nothing was written and no AWS call was made".into())
    }

    fn json_details(&self) -> Option<serde_json::Value> {
        let (errors, more) = self.reported();
        Some(serde_json::json!({
            "event": "invalid_answers",
            "source": self.origin,
            "errors": errors,
            "more": more,
        }))
    }
}

/// An answers file's text: refused when it cannot be read, is larger than
/// [`MAX_ANSWERS_BYTES`], binary, or not UTF-8; its TOML is not checked here.
pub fn read_text(path: &Path) -> Result<String, AnswersInvalid> {
    let source = path.display().to_string();
    let file_error = |problem: String, fix: &str| {
        AnswersInvalid::new(
            source.clone(),
            vec![AnswerError::new("(file)", None, problem, fix)],
        )
    };
    let file = std::fs::File::open(path).map_err(|e| {
        file_error(
            format!("cannot read it: {e}"),
            "check the path given to --answers",
        )
    })?;
    // Read one byte past the limit, so a huge file (or /dev/zero) is refused without being
    // read whole.
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(file, MAX_ANSWERS_BYTES + 1),
        &mut bytes,
    )
    .map_err(|e| {
        file_error(
            format!("cannot read it: {e}"),
            "check the path given to --answers",
        )
    })?;
    if bytes.len() as u64 > MAX_ANSWERS_BYTES {
        return Err(file_error(
            format!(
                "it is larger than {} KiB; an answers file is a few dozen lines",
                MAX_ANSWERS_BYTES / 1024
            ),
            "give the answers file itself (start from `medplum-init answers-template`)",
        ));
    }
    if bytes.contains(&0) {
        return Err(file_error(
            "it is a binary file, not TOML text".into(),
            "give the answers file itself (start from `medplum-init answers-template`)",
        ));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        file_error(
            format!(
                "it is not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
            "save the file as UTF-8",
        )
    })?;
    Ok(text)
}
/// An answers text with every secret `[server]` value removed (at any depth: `[server.database]
/// password` is `database.password`), comments dropped. What the journal may keep.
pub fn without_secrets(text: &str) -> Result<String, toml::de::Error> {
    fn strip(table: &mut toml::Table, prefix: &str) {
        table.retain(|k, v| {
            let key = if prefix.is_empty() {
                k.to_string()
            } else {
                format!("{prefix}.{k}")
            };
            // A JSON-valued secret (`backgroundJobsRedis`) may be written as a table: the
            // key itself decides before its contents are looked at.
            if crate::config::server::is_secret(&key) {
                return false;
            }
            match v {
                toml::Value::Table(inner) => {
                    strip(inner, &key);
                    !inner.is_empty()
                }
                _ => true,
            }
        });
    }
    let mut table: toml::Table = toml::from_str(text)?;
    if let Some(toml::Value::Table(server)) = table.get_mut("server") {
        strip(server, "");
        if server.is_empty() {
            table.remove("server");
        }
    }
    Ok(toml::to_string(&table).expect("a parsed table serialises"))
}

/// Command-line values that take part in validation.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--env`: must agree with `name` when both are given.
    pub env: Option<String>,
    /// `--region`: the default for `region`; must agree with it when both are given.
    pub region: Option<String>,
}

/// What to do about one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertChoice {
    /// Reuse an issued certificate that covers the domain, or request one.
    Auto,
    /// Always request a new one (idempotent per environment and domain).
    Request,
    /// Leave it to the user; the config gets no ARN.
    Skip,
    /// Use this certificate.
    Arn(String),
}

impl CertChoice {
    pub fn label(&self) -> &str {
        match self {
            CertChoice::Auto => "auto",
            CertChoice::Request => "request",
            CertChoice::Skip => "skip",
            CertChoice::Arn(a) => a,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateAnswers {
    pub api: CertChoice,
    pub app: CertChoice,
    pub storage: CertChoice,
    /// Write the DNS validation CNAMEs into Route53 when the hosted zone is there.
    pub dns_records: bool,
    /// Wait until requested certificates are ISSUED.
    pub wait: bool,
    pub wait_timeout: Duration,
}

/// Which SES identity to create for `supportEmail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailIdentity {
    Address,
    Domain,
    Skip,
}

impl EmailIdentity {
    pub fn label(self) -> &'static str {
        match self {
            EmailIdentity::Address => "address",
            EmailIdentity::Domain => "domain",
            EmailIdentity::Skip => "skip",
        }
    }
}

/// A `[server]` value, already in the string form the parameter will hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerValue {
    Plain(String),
    Secret(Secret),
}

impl ServerValue {
    pub fn expose(&self) -> &str {
        match self {
            ServerValue::Plain(s) => s,
            ServerValue::Secret(s) => s.expose(),
        }
    }
    pub fn is_secret(&self) -> bool {
        matches!(self, ServerValue::Secret(_))
    }
}

/// Validated answers with Medplum's defaults filled in.
#[derive(Debug, Clone)]
pub struct Answers {
    /// Where they came from, for messages.
    pub source: String,
    /// CDK config keys: given ones and defaults, in [`keys::CDK_KEYS`] order.
    pub cdk: Map<String, Value>,
    /// Keys the user gave explicitly (the rest are defaults).
    pub given: Vec<String>,
    /// `[server]` keys, flattened to parameter keys (`database.ssl.require`).
    pub server: Vec<(String, ServerValue)>,
    pub certificates: CertificateAnswers,
    pub email: EmailIdentity,
    pub create_logging_bucket: bool,
    pub bot_layer_zip: Option<PathBuf>,
    pub apply_parameters: bool,
    pub deploy: bool,
    /// Not errors, but worth saying (e.g. a node type AWS no longer accepts for new clusters).
    pub warnings: Vec<AnswerError>,
    /// The answers text with every secret `[server]` value left out: what the journal keeps so
    /// a later `step` or guided run starts from the same answers.
    pub recorded: String,
}

/// Largest answers file read: the template is a few KiB, so anything near this is not one.
pub const MAX_ANSWERS_BYTES: u64 = 1024 * 1024;

/// Medplum's container image when the answers name none.
pub const DEFAULT_SERVER_IMAGE: &str = "medplum/medplum-server:latest";

impl Answers {
    pub fn load(path: &Path, overrides: &Overrides) -> Result<Self, AnswersInvalid> {
        let text = read_text(path)?;
        Self::from_toml(&text, &path.display().to_string(), overrides)
    }

    pub fn from_toml(
        text: &str,
        source: &str,
        overrides: &Overrides,
    ) -> Result<Self, AnswersInvalid> {
        let invalid = |errors| AnswersInvalid::new(source, errors);
        let table = source::parse(text).map_err(invalid)?;
        let mut v = validate::Validator::default();
        let answers = v.run(&table, source, overrides);
        if v.errors.is_empty() {
            let mut a = answers.expect("no errors means complete answers");
            a.warnings = v.warnings;
            a.recorded = without_secrets(text).unwrap_or_default();
            Ok(a)
        } else {
            Err(invalid(v.errors))
        }
    }

    /// The config a run would write when `existing` (a config file's keys) is already there:
    /// answers given explicitly win, the file's values stay, defaults fill the rest; checked
    /// with the answers' rules so a hand-edited `region = "mars-1"` is refused, not kept.
    pub fn check_config_file(&self, existing: &Map<String, Value>, file: &str) -> Vec<AnswerError> {
        let mut merged = self.cdk.clone();
        for (k, v) in existing {
            if !self.given.iter().any(|g| g == k) {
                merged.insert(k.clone(), v.clone());
            }
        }
        validate::config_values(&merged, file)
            .into_iter()
            .map(|e| AnswerError {
                key: validators::escape_controls(&e.key, validators::SHOWN_MAX_CHARS),
                line: None,
                problem: validators::escape_controls(&e.problem, 240),
                fix: validators::escape_controls(&e.fix, 240),
            })
            .collect()
    }

    pub fn str(&self, key: &str) -> Option<&str> {
        self.cdk
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }
    fn req(&self, key: &str) -> &str {
        self.str(key)
            .unwrap_or_else(|| panic!("validated answers always have {key}"))
    }
    fn int(&self, key: &str) -> i64 {
        self.cdk
            .get(key)
            .and_then(Value::as_i64)
            .unwrap_or_else(|| panic!("validated answers always have {key}"))
    }
    pub fn flag(&self, key: &str) -> bool {
        self.cdk.get(key).and_then(Value::as_bool).unwrap_or(false)
    }

    pub fn env(&self) -> &str {
        self.req("name")
    }
    pub fn stack_name(&self) -> &str {
        self.req("stackName")
    }
    pub fn region(&self) -> &str {
        self.req("region")
    }
    pub fn account(&self) -> Option<&str> {
        self.str("accountNumber")
    }
    pub fn domain(&self) -> &str {
        self.req("domainName")
    }
    pub fn api_domain(&self) -> &str {
        self.req("apiDomainName")
    }
    pub fn app_domain(&self) -> &str {
        self.req("appDomainName")
    }
    pub fn storage_domain(&self) -> &str {
        self.req("storageDomainName")
    }
    pub fn storage_bucket(&self) -> &str {
        self.req("storageBucketName")
    }
    pub fn api_port(&self) -> u16 {
        self.int("apiPort") as u16
    }
    pub fn hosted_zone_name(&self) -> Option<&str> {
        self.str("hostedZoneName")
    }
    pub fn skip_dns(&self) -> bool {
        self.flag("skipDns")
    }
    pub fn support_email(&self) -> &str {
        self.server_value("supportEmail")
            .expect("validated answers always have supportEmail")
    }
    pub fn server_value(&self, key: &str) -> Option<&str> {
        self.server
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.expose())
    }
    pub fn base_url(&self) -> String {
        derive::https_base(self.api_domain())
    }
    /// The logging bucket the answers ask medplum-init to create, if any.
    pub fn logging_bucket(&self) -> Option<&str> {
        self.str("loadBalancerLoggingBucket")
            .or_else(|| self.str("clamscanLoggingBucket"))
    }
}

#[cfg(test)]
mod tests;
