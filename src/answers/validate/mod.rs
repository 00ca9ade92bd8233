//! Validation of an answers document: types, unknown keys, per-key checks, Medplum's defaults,
//! cross-field rules and the step tables. Every problem is collected; nothing stops at the first.

mod app_keys;
mod cdk;
mod server_keys;
mod tools;

use serde_json::{Map, Value};

use super::keys::{self, Ty};
use super::source::{Entry, Node, Table, Val};
use super::{AnswerError, Answers, DEFAULT_SERVER_IMAGE, Overrides};
use crate::config::US_EAST_1;
use crate::config::infra::DEFAULT_CACHE_NODE_TYPE;
use crate::config::{derive, server, validators};

#[derive(Default)]
pub(super) struct Validator {
    pub(super) errors: Vec<AnswerError>,
    pub(super) warnings: Vec<AnswerError>,
    /// Set when the values checked come from this config file rather than from answers.
    pub(super) in_file: Option<String>,
}

/// Keys a config file cannot leave empty: the stack is named, placed and addressed by them.
const REQUIRED_IN_FILE: &[&str] = &[
    "name",
    "stackName",
    "region",
    "domainName",
    "apiDomainName",
    "appDomainName",
    "storageDomainName",
    "storageBucketName",
];

/// Checks the CDK values a config file holds with the rules answers get: its types, each value,
/// the cross-field rules. External secrets are the CDK's to resolve and keys medplum-init does
/// not know are the user's; both are left alone.
pub(super) fn config_values(map: &Map<String, Value>, file: &str) -> Vec<AnswerError> {
    let mut v = Validator {
        in_file: Some(file.to_string()),
        ..Default::default()
    };
    let mut typed = Map::new();
    for (key, value) in map {
        let Some(spec) = keys::cdk_key(key) else {
            continue;
        };
        if crate::config::infra::ExternalSecret::from_value(value).is_some() {
            continue;
        }
        // `medplum aws init` writes "" for what it leaves unset (vpcId, signingKeyId, ...), and
        // the CDK reads "" as unset; only the keys every stack needs must hold something.
        if value.as_str() == Some("") && !REQUIRED_IN_FILE.contains(&key.as_str()) {
            continue;
        }
        let ok = match spec.ty {
            Ty::Str => value.is_string(),
            Ty::Int => value.is_i64(),
            Ty::Bool => value.is_boolean(),
            Ty::StrMap => value
                .as_object()
                .is_some_and(|m| m.values().all(Value::is_string)),
            Ty::Table => value.is_object(),
            Ty::Array => value.is_array(),
        };
        if ok {
            typed.insert(key.clone(), value.clone());
        } else {
            v.err(
                key,
                None,
                (
                    format!("expected {} in {file}", spec.ty.describe()),
                    format!("fix {key} in {file}, or give it in the answers"),
                ),
            );
        }
    }
    v.check_cdk_values(&typed, &Table::default());
    v.errors
}

/// The line of a top-level key, for cross-field errors.
pub(super) fn line_of(table: &Table, key: &str) -> Option<usize> {
    table.get(key).map(|e| e.line)
}

impl Validator {
    pub(super) fn err(&mut self, key: &str, line: Option<usize>, (problem, fix): (String, String)) {
        self.errors.push(AnswerError {
            key: key.into(),
            line,
            problem,
            fix,
        });
    }

    /// A typo suggestion, computed only while the error will be among those shown
    /// ([`super::MAX_REPORTED_ERRORS`]): the edit distance is not free, and a 1 MiB file of
    /// unknown keys (tens of thousands) would otherwise spend seconds on suggestions nobody sees.
    pub(super) fn did_you_mean<'a>(
        &self,
        word: &str,
        candidates: impl IntoIterator<Item = &'a str>,
    ) -> Option<&'a str> {
        if self.errors.len() >= super::MAX_REPORTED_ERRORS {
            return None;
        }
        validators::did_you_mean(word, candidates)
    }

    pub(super) fn check(&mut self, key: &str, line: Option<usize>, result: validators::Check) {
        if let Err(pf) = result {
            self.err(key, line, pf);
        }
    }

    pub(super) fn type_error(&mut self, key: &str, e: &Entry, want: Ty) {
        let fix = match (want, &e.node.value) {
            (Ty::Int, Val::Str(s)) => format!("write it without quotes: {} = {}", e.key, s),
            (Ty::Bool, Val::Str(s)) => {
                format!("write it without quotes: {} = {}", e.key, s.to_lowercase())
            }
            (Ty::Str, Val::Int(i)) => format!("quote it: {} = \"{i}\"", e.key),
            (Ty::Str, Val::Bool(b)) => format!("quote it: {} = \"{b}\"", e.key),
            _ => format!("give {} {}", e.key, want.describe()),
        };
        self.err(
            key,
            Some(e.line),
            (
                format!("expected {}, found {}", want.describe(), e.node.type_name()),
                fix,
            ),
        );
    }

    /// Checks `e` against `ty` and returns its JSON form.
    pub(super) fn typed(&mut self, key: &str, e: &Entry, ty: Ty) -> Option<Value> {
        let ok = match (&e.node.value, ty) {
            (Val::Str(_), Ty::Str) | (Val::Int(_), Ty::Int) | (Val::Bool(_), Ty::Bool) => true,
            (Val::Table(_), Ty::Table) | (Val::Array(_), Ty::Array) => true,
            (Val::Table(t), Ty::StrMap) => {
                let mut ok = true;
                for inner in &t.entries {
                    if !matches!(inner.node.value, Val::Str(_)) {
                        self.err(
                            &format!("{key}.{}", inner.key),
                            Some(inner.line),
                            (
                                format!("expected a string, found {}", inner.node.type_name()),
                                "quote the value".into(),
                            ),
                        );
                        ok = false;
                    }
                }
                ok
            }
            _ => {
                self.type_error(key, e, ty);
                return None;
            }
        };
        ok.then(|| e.node.to_json())
    }

    pub(super) fn run(&mut self, table: &Table, source: &str, ov: &Overrides) -> Option<Answers> {
        let mut cdk = Map::new();
        let mut given = Vec::new();
        let mut server_entries: Vec<(String, usize, &Node)> = Vec::new();
        let mut tool: Vec<(&str, &Entry)> = Vec::new();
        let mut server_line = None;

        for e in &table.entries {
            if let Some(spec) = keys::cdk_key(&e.key) {
                if let Some(v) = self.typed(&e.key, e, spec.ty) {
                    cdk.insert(e.key.clone(), v);
                    given.push(e.key.clone());
                }
            } else if e.key == "server" {
                server_line = Some(e.line);
                match &e.node.value {
                    Val::Table(t) => server_keys::flatten_server(t, "", &mut server_entries),
                    _ => self.type_error("server", e, Ty::Table),
                }
            } else if let Some(spec) = keys::tool_table(&e.key) {
                match &e.node.value {
                    Val::Table(t) => {
                        for inner in &t.entries {
                            let full = format!("{}.{}", e.key, inner.key);
                            match spec.iter().find(|(k, _)| *k == inner.key) {
                                Some((_, ty)) => {
                                    if self.typed(&full, inner, *ty).is_some() {
                                        tool.push((tools::spec_name(&e.key), inner));
                                    }
                                }
                                None => {
                                    let hint = self
                                        .did_you_mean(&inner.key, spec.iter().map(|(k, _)| *k))
                                        .map(|s| format!("did you mean '{s}'?"))
                                        .unwrap_or_else(|| {
                                            format!(
                                                "[{}] takes {}",
                                                e.key,
                                                spec.iter()
                                                    .map(|(k, _)| *k)
                                                    .collect::<Vec<_>>()
                                                    .join(", ")
                                            )
                                        });
                                    self.err(
                                        &full,
                                        Some(inner.line),
                                        (format!("unknown key '{}'", inner.key), hint),
                                    );
                                }
                            }
                        }
                    }
                    _ => self.type_error(&e.key, e, Ty::Table),
                }
            } else if server::lookup(&e.key).is_some() {
                self.err(
                    &e.key,
                    Some(e.line),
                    (
                        format!("{} is a server setting", e.key),
                        format!("move it into the [server] table: [server] {} = ...", e.key),
                    ),
                );
            } else {
                let hint = self.did_you_mean(&e.key, keys::top_level_names())
                    .map(|s| format!("did you mean '{s}'?"))
                    .unwrap_or_else(|| "top-level keys are Medplum CDK config keys; see `medplum-init answers-template`".into());
                self.err(
                    &e.key,
                    Some(e.line),
                    (format!("unknown key '{}'", e.key), hint),
                );
            }
        }

        self.environment(&mut cdk, table, ov);
        self.defaults(&mut cdk, table, ov);
        self.check_cdk_values(&cdk, table);
        let mut server = self.server(&server_entries, server_line, &cdk);
        self.share_app_keys(&mut cdk, &mut given, &mut server, table);
        let tool_answers = self.tool(&tool, &cdk, table);

        if !self.errors.is_empty() {
            return None;
        }
        let (certificates, email, create_logging_bucket, bot_layer_zip, apply_parameters, deploy) =
            tool_answers?;
        Some(Answers {
            source: source.to_string(),
            cdk,
            given,
            server,
            certificates,
            email,
            create_logging_bucket,
            bot_layer_zip,
            apply_parameters,
            deploy,
            warnings: Vec::new(),
            recorded: String::new(),
        })
    }

    /// `name` and `--env`, `region` and `--region`.
    fn environment(&mut self, cdk: &mut Map<String, Value>, table: &Table, ov: &Overrides) {
        match (
            cdk.get("name").and_then(Value::as_str).map(str::to_string),
            &ov.env,
        ) {
            (Some(n), Some(e)) if &n != e => self.err(
                "name",
                line_of(table, "name"),
                (
                    format!("the answers say name = \"{n}\" but --env says \"{e}\""),
                    "drop --env or make the two agree".into(),
                ),
            ),
            (None, Some(e)) => {
                cdk.insert("name".into(), Value::String(e.clone()));
            }
            (None, None) => self.err(
                "name",
                None,
                (
                    "missing: the environment name is required".into(),
                    "add name = \"staging\" (or pass --env staging)".into(),
                ),
            ),
            _ => {}
        }
        match (
            cdk.get("region")
                .and_then(Value::as_str)
                .map(str::to_string),
            &ov.region,
        ) {
            (Some(r), Some(o)) if &r != o => self.err(
                "region",
                line_of(table, "region"),
                (
                    format!("the answers say region = \"{r}\" but --region says \"{o}\""),
                    "drop --region or make the two agree".into(),
                ),
            ),
            (None, Some(o)) => {
                cdk.insert("region".into(), Value::String(o.clone()));
            }
            _ => {}
        }
    }

    /// Medplum's defaults, in the order `medplum aws init` derives them.
    fn defaults(&mut self, cdk: &mut Map<String, Value>, table: &Table, _ov: &Overrides) {
        let s = |cdk: &Map<String, Value>, k: &str| {
            cdk.get(k).and_then(Value::as_str).map(str::to_string)
        };
        let set = |cdk: &mut Map<String, Value>, k: &str, v: Value| {
            cdk.entry(k.to_string()).or_insert(v);
        };
        // Derive only from valid values, so one mistake gives one error, not a cascade.
        if let Some(name) = s(cdk, "name").filter(|n| validators::env_name(n).is_ok()) {
            set(
                cdk,
                "stackName",
                Value::String(derive::default_stack_name(&name)),
            );
        }
        set(cdk, "region", Value::String(US_EAST_1.into()));
        match s(cdk, "domainName") {
            Some(d) if validators::domain(&d).is_err() => {}
            Some(d) => {
                set(cdk, "apiDomainName", Value::String(format!("api.{d}")));
                set(cdk, "appDomainName", Value::String(format!("app.{d}")));
                set(
                    cdk,
                    "storageDomainName",
                    Value::String(format!("storage.{d}")),
                );
            }
            None => {
                if table.get("domainName").is_none() {
                    self.err(
                        "domainName",
                        None,
                        ("missing: the base domain is required".into(), "add domainName = \"example.com\" (the Route53 zone, or a name under it)".into()),
                    );
                }
            }
        }
        if let Some(storage) = s(cdk, "storageDomainName").filter(|d| validators::domain(d).is_ok())
        {
            set(cdk, "storageBucketName", Value::String(storage));
        }
        if let Some(api) = s(cdk, "apiDomainName").filter(|d| validators::domain(d).is_ok()) {
            set(cdk, "baseUrl", Value::String(derive::https_base(&api)));
        }
        set(cdk, "apiPort", Value::from(8103));
        set(cdk, "maxAzs", Value::from(2));
        set(cdk, "rdsInstances", Value::from(1));
        set(cdk, "desiredServerCount", Value::from(1));
        set(
            cdk,
            "serverImage",
            Value::String(DEFAULT_SERVER_IMAGE.into()),
        );
        set(cdk, "serverMemory", Value::from(512));
        set(cdk, "serverCpu", Value::from(256));
        set(
            cdk,
            "cacheNodeType",
            Value::String(DEFAULT_CACHE_NODE_TYPE.into()),
        );
        // Keep the documented key order no matter which were given.
        let mut ordered = Map::new();
        for k in keys::CDK_KEYS {
            if let Some(v) = cdk.remove(k.key) {
                ordered.insert(k.key.to_string(), v);
            }
        }
        *cdk = ordered;
    }
}
