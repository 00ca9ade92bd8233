//! The `[server]` table: known server keys, their types, and the keys init must not write.

use serde_json::{Map, Value};

use super::super::ServerValue;
use super::super::keys;
use super::super::source::{Node, Table, Val};
use super::Validator;
use crate::config::server;
use crate::config::validators;
use crate::crypto::Secret;

impl Validator {
    pub(super) fn server(
        &mut self,
        entries: &[(String, usize, &Node)],
        server_line: Option<usize>,
        cdk: &Map<String, Value>,
    ) -> Vec<(String, ServerValue)> {
        let mut out = Vec::new();
        let mut seen_support = false;
        for (key, line, node) in entries {
            let full = format!("server.{key}");
            let line = Some(*line);
            let Some(spec) = server::lookup(key) else {
                if keys::cdk_key(key).is_some() {
                    self.err(
                        &full,
                        line,
                        (
                            format!("{key} is a CDK config key, not a server key"),
                            format!("move {key} above the [server] table"),
                        ),
                    );
                    continue;
                }
                let hint = self
                    .did_you_mean(key, server::SERVER_KEYS.iter().map(|k| k.key))
                    .map(|s| format!("did you mean '{s}'?"))
                    .unwrap_or_else(|| {
                        "see Medplum's server config reference for the key names".into()
                    });
                self.err(&full, line, (format!("unknown server key '{key}'"), hint));
                continue;
            };
            if spec.created_by == server::CreatedBy::Cdk {
                self.err(
                    &full,
                    line,
                    (
                        format!("/medplum/<env>/{key} is created by the CloudFormation stack"),
                        "remove it; writing it first would make the deploy fail".into(),
                    ),
                );
                continue;
            }
            match key.as_str() {
                "signingKey" | "signingKeyPassphrase" | "signingKeyId" => {
                    self.err(
                        &full,
                        line,
                        (
                            format!("{key} is managed by medplum-init's signing-key step"),
                            "remove it; to use a key already in CloudFront set signingKeyId at the top level".into(),
                        ),
                    );
                    continue;
                }
                "baseUrl" | "appBaseUrl" | "storageBaseUrl" | "binaryStorage" => {
                    self.err(
                        &full,
                        line,
                        (
                            format!("{key} is derived from the domain and bucket names"),
                            "remove it and set apiDomainName, appDomainName, storageDomainName or storageBucketName instead".into(),
                        ),
                    );
                    continue;
                }
                _ => {}
            }
            let Some(text) = self.server_text(&full, line, node, spec) else {
                continue;
            };
            if *key == "port" {
                let port = cdk.get("apiPort").and_then(Value::as_i64).unwrap_or(8103);
                if text != port.to_string() {
                    self.err(
                        &full,
                        line,
                        (
                            format!("port {text} differs from apiPort {port}"),
                            "drop server.port; it follows apiPort".into(),
                        ),
                    );
                    continue;
                }
            }
            // Copied to the app's JavaScript when the CDK config does not set it.
            let example = match key.as_str() {
                "googleClientId" => Some(validators::GOOGLE_CLIENT_ID_EXAMPLE),
                "recaptchaSiteKey" => Some(validators::RECAPTCHA_SITE_KEY_EXAMPLE),
                _ => None,
            };
            if let Some(example) = example
                && let Err(pf) = validators::app_token(&text, example)
            {
                self.err(&full, line, pf);
                continue;
            }
            if *key == "supportEmail" {
                seen_support = true;
                if let Err(pf) = validators::email(&text) {
                    self.err(&full, line, pf);
                    continue;
                }
            }
            let value = if spec.secret {
                ServerValue::Secret(Secret::new(text))
            } else {
                ServerValue::Plain(text)
            };
            out.push((key.clone(), value));
        }
        if !seen_support {
            self.err(
                "server.supportEmail",
                server_line,
                (
                    "missing: the address Medplum sends email from is required".into(),
                    "add supportEmail = \"support@example.com\" under [server]".into(),
                ),
            );
        }
        out
    }

    /// Checks a server value against its kind and returns the parameter text.
    fn server_text(
        &mut self,
        key: &str,
        line: Option<usize>,
        node: &Node,
        spec: &server::ServerKey,
    ) -> Option<String> {
        use server::Kind;
        let mismatch = |want: &str| {
            (
                format!("expected {want}, found {}", node.type_name()),
                format!("give {key} {want}"),
            )
        };
        let r: Result<String, (String, String)> = match (spec.kind, &node.value) {
            (Kind::String, Val::Str(s)) => Ok(s.clone()),
            (Kind::Url, Val::Str(s)) => validators::https_url(s).map(|_| s.clone()),
            (Kind::Integer, Val::Int(i)) => Ok(i.to_string()),
            (Kind::Boolean, Val::Bool(b)) => Ok(b.to_string()),
            (Kind::Json, Val::Table(_) | Val::Array(_)) => Ok(node.to_json().to_string()),
            (Kind::Json, Val::Str(s)) => serde_json::from_str::<Value>(s)
                .map(|_| s.clone())
                .map_err(|e| {
                    (
                        format!("not valid JSON: {e}"),
                        "write it as a TOML table or array instead".into(),
                    )
                }),
            (Kind::Csv, Val::Str(s)) => Ok(s.clone()),
            (Kind::Csv, Val::Array(items)) => items
                .iter()
                .map(|n| match &n.value {
                    Val::Str(s) if !s.contains(',') => Ok(s.clone()),
                    _ => Err((
                        "list items must be strings without commas".to_string(),
                        format!("give {key} a list of strings"),
                    )),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(|v| v.join(",")),
            (Kind::Enum(options), Val::Str(s)) => {
                if options.contains(&s.as_str()) {
                    Ok(s.clone())
                } else {
                    Err((
                        format!("'{s}' is not one of {}", options.join(", ")),
                        format!("use one of {}", options.join(", ")),
                    ))
                }
            }
            (Kind::String | Kind::Url | Kind::Enum(_), _) => Err(mismatch("a string")),
            (Kind::Integer, _) => Err(mismatch("an integer")),
            (Kind::Boolean, _) => Err(mismatch("a boolean")),
            (Kind::Json, _) => Err(mismatch("a table or an array")),
            (Kind::Csv, _) => Err(mismatch("a string or a list of strings")),
        };
        match r {
            Ok(t) if t.len() > 8192 => {
                self.err(
                    key,
                    line,
                    (
                        format!("the value is {} bytes; SSM takes at most 8 KB", t.len()),
                        "shorten it".into(),
                    ),
                );
                None
            }
            Ok(t) => Some(t),
            Err(pf) => {
                self.err(key, line, pf);
                None
            }
        }
    }
}

/// `[server] database.ssl.require = true` is a nested table in TOML; the parameter is
/// `database.ssl.require`. JSON-typed keys (`smtp`, `bullmq`, ...) stay whole.
pub(super) fn flatten_server<'a>(
    t: &'a Table,
    prefix: &str,
    out: &mut Vec<(String, usize, &'a Node)>,
) {
    for e in &t.entries {
        let key = if prefix.is_empty() {
            e.key.clone()
        } else {
            format!("{prefix}.{}", e.key)
        };
        let json_key = server::lookup(&key).is_some_and(|s| s.kind == server::Kind::Json);
        match &e.node.value {
            Val::Table(inner) if !json_key => flatten_server(inner, &key, out),
            _ => out.push((key, e.line, &e.node)),
        }
    }
}
