//! The Medplum CDK infra config file, `medplum.<env>.config.json`, exactly as `@medplum/cdk` reads it.
//!
//! Two views of one file:
//! * [`ConfigDocument`], an ordered JSON object. Writing goes through it, so keys a user added by
//!   hand and external-secret values survive a re-run, and the key order is stable.
//! * [`InfraConfig`], the typed form the deploy engine synthesises from, after external secrets
//!   (`{"system":"aws_ssm_parameter_store","key":…,"type":…}`) have been resolved.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::validators;
use crate::fsutil;

/// Longest message shown for a key of the file: serde's name every accepted field, so a little
/// more room than an answers problem gets.
const MAX_MESSAGE_CHARS: usize = 400;

/// Redis node type written (and synthesised) when none is given: Medplum's CDK default,
/// cache.t2.medium, is rejected for new clusters (medplum/medplum#8985), so the config names one
/// AWS accepts.
pub const DEFAULT_CACHE_NODE_TYPE: &str = "cache.t4g.medium";

/// medplum-init's own config key: the CloudFront public key id a signing key rotation retires.
/// While it is set the storage key group trusts it beside `signingKeyId`, so URLs signed with
/// either verify. Medplum's CDK reads only the keys of `MedplumInfraConfig` and ignores it.
pub const RETIRING_SIGNING_KEY: &str = "medplumInitRetiringSigningKeyId";

/// The order in which known keys are written. Keys not listed follow, in the order they had.
pub const KEY_ORDER: &[&str] = &[
    "name",
    "stackName",
    "accountNumber",
    "region",
    "domainName",
    "hostedZoneName",
    "skipDns",
    "vpcId",
    "apiPort",
    "apiDomainName",
    "apiSslCertArn",
    "apiInternetFacing",
    "apiWafIpSetArn",
    "appDomainName",
    "appSslCertArn",
    "appApiProxy",
    "appWafIpSetArn",
    "appLoggingBucket",
    "appLoggingPrefix",
    "storageBucketName",
    "storageDomainName",
    "storageSslCertArn",
    "signingKeyId",
    "storagePublicKey",
    // medplum-init's own (Medplum's CDK ignores it): the key a rotation retires, trusted beside
    // signingKeyId until the rotation finishes.
    RETIRING_SIGNING_KEY,
    "storageWafIpSetArn",
    "storageLoggingBucket",
    "storageLoggingPrefix",
    "baseUrl",
    // Read by the app publisher (Medplum's `update-app`, medplum-init's `app`), not by the CDK.
    "clientId",
    "googleClientId",
    "recaptchaSiteKey",
    "registerEnabled",
    "maxAzs",
    "rdsInstances",
    "rdsInstanceType",
    "rdsReaderInstanceType",
    "rdsInstanceVersion",
    "rdsClusterParameters",
    "rdsAutoMinorVersionUpgrade",
    "rdsSecretsArn",
    "rdsProxyEnabled",
    "rdsForceRetain",
    "rdsPersistentParameterGroups",
    "rdsIdsMajorVersionSuffix",
    "cacheNodeType",
    "cacheSecurityGroupId",
    "desiredServerCount",
    "serverImage",
    "serverMemory",
    "serverCpu",
    "environment",
    "additionalContainers",
    "containerRegistryCredentialsSecretArn",
    "containerInsights",
    "containerInsightsV2",
    "fargateAutoScaling",
    "loadBalancerSecurityGroupId",
    "loadBalancerLoggingEnabled",
    "loadBalancerLoggingBucket",
    "loadBalancerLoggingPrefix",
    "loadBalancerAlgorithm",
    "clamscanEnabled",
    "clamscanLoggingBucket",
    "clamscanLoggingPrefix",
    "guardDutyMalwareProtectionEnabled",
    "wafLogGroupName",
    "wafLogGroupCreate",
    "cloudTrailAlarms",
    "mtlsDomainName",
    "mtlsSslCertArn",
    "mtlsInternetFacing",
    "mtlsWafIpSetArn",
    "fireLens",
    "workers",
    "workerServices",
    "cacheRedis",
    "rateLimitRedis",
    "pubSubRedis",
    "backgroundJobsRedis",
];

/// File name of an environment's CDK config, as Medplum's CLI and docs name it.
pub fn config_file_name(env: &str) -> String {
    format!("medplum.{env}.config.json")
}

pub fn config_path(dir: &Path, env: &str) -> PathBuf {
    dir.join(config_file_name(env))
}

/// `{"system":"aws_ssm_parameter_store","key":"/p/k","type":"string"}`: a value the CDK reads from
/// SSM at every synth. Allowed for any key except `region`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalSecret {
    pub system: String,
    pub key: String,
    #[serde(rename = "type")]
    pub kind: ExternalSecretType,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExternalSecretType {
    String,
    Number,
    Boolean,
}

pub const EXTERNAL_SECRET_SYSTEM: &str = "aws_ssm_parameter_store";

impl ExternalSecret {
    /// Recognises the external-secret shape: an object with exactly `system`, `key` and `type`.
    pub fn from_value(v: &Value) -> Option<Self> {
        let obj = v.as_object()?;
        if obj.len() != 3 || !obj.contains_key("system") {
            return None;
        }
        serde_json::from_value(v.clone()).ok()
    }

    /// Converts the SSM string to the JSON value the CDK would use (`parseInt`, `"true"`/`"false"`).
    pub fn coerce(&self, raw: &str) -> Result<Value, String> {
        match self.kind {
            ExternalSecretType::String => Ok(Value::String(raw.to_string())),
            ExternalSecretType::Number => {
                // parseInt(v, 10): leading integer digits, the rest ignored.
                let t = raw.trim_start();
                let end = t
                    .char_indices()
                    .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && (c == '-' || c == '+'))))
                    .map(|(i, _)| i)
                    .unwrap_or(t.len());
                // Never echo the value: it lives in SSM because it may be secret.
                t[..end].parse::<i64>().map(Value::from).map_err(|_| {
                    if t[..end].trim_start_matches(['+', '-']).is_empty() {
                        format!(
                            "SSM parameter {} does not start with an integer, and the config says \"type\": \"number\" (its value is not shown)",
                            self.key
                        )
                    } else {
                        format!(
                            "SSM parameter {} holds an integer out of range (more than 64 bits; its value is not shown)",
                            self.key
                        )
                    }
                })
            }
            ExternalSecretType::Boolean => match raw {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => Err(format!(
                    "SSM parameter {} is neither true nor false, and the config says \"type\": \"boolean\" (its value is not shown)",
                    self.key
                )),
            },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("could not read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid JSON: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path} must hold a JSON object at the top level")]
    NotObject { path: PathBuf },
    #[error("could not write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The key and the message quote what the file says (a hand-edited file may hold anything):
    /// shown escaped and cut, as answers errors are, so the file cannot drive the terminal.
    #[error(
        "config key '{}': {}",
        validators::shown(key),
        validators::escape_controls(message, MAX_MESSAGE_CHARS)
    )]
    Invalid { key: String, message: String },
}

impl crate::error::Diagnostic for ConfigFileError {
    /// A file that does not parse, or a link refused at our own path, is the user's to fix; a
    /// disk that fails is a failure.
    fn outcome(&self) -> crate::outcome::Outcome {
        use crate::outcome::Outcome;
        match self {
            ConfigFileError::Read { source, .. }
                if source.kind() != std::io::ErrorKind::PermissionDenied =>
            {
                Outcome::Failed
            }
            ConfigFileError::Write { .. } => Outcome::Failed,
            _ => Outcome::Invalid,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            ConfigFileError::Parse { .. } | ConfigFileError::NotObject { .. } => {
                Some("fix the JSON by hand, or move the file aside to write a new one".into())
            }
            ConfigFileError::Invalid { .. } => {
                Some("change the value in the config file (docs/answers.md lists each key)".into())
            }
            _ => None,
        }
    }
}

/// The config file as an ordered JSON object.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigDocument {
    pub map: Map<String, Value>,
}

impl ConfigDocument {
    /// Reads the file; `None` when there is none. A symbolic link there is refused rather than
    /// followed: the run would otherwise read (and its write replace) a file chosen by whoever
    /// planted the link.
    pub fn read(path: &Path) -> Result<Option<Self>, ConfigFileError> {
        let bytes = match fsutil::read_nofollow(path) {
            Ok(Some(b)) => b,
            Ok(None) => return Ok(None),
            Err(source) => {
                return Err(ConfigFileError::Read {
                    path: path.into(),
                    source,
                });
            }
        };
        let value: Value =
            serde_json::from_slice(&bytes).map_err(|source| ConfigFileError::Parse {
                path: path.into(),
                source,
            })?;
        match value {
            Value::Object(map) => Ok(Some(Self { map })),
            _ => Err(ConfigFileError::NotObject { path: path.into() }),
        }
    }

    /// Sets `key` unless the file holds an external secret there: the user moved that value to
    /// SSM on purpose, and the CDK resolves it at synth. Returns false when the value was kept.
    pub fn set(&mut self, key: &str, value: Value) -> bool {
        if let Some(existing) = self.map.get(key)
            && ExternalSecret::from_value(existing).is_some()
        {
            return false;
        }
        self.map.insert(key.to_string(), value);
        true
    }

    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.map.get(key).and_then(Value::as_str)
    }

    /// Keys in [`KEY_ORDER`] first, then any others in their existing order.
    pub fn ordered(&self) -> Map<String, Value> {
        let mut out = Map::new();
        for k in KEY_ORDER {
            if let Some(v) = self.map.get(*k) {
                out.insert((*k).to_string(), v.clone());
            }
        }
        for (k, v) in &self.map {
            if !out.contains_key(k) {
                out.insert(k.clone(), v.clone());
            }
        }
        out
    }

    /// Pretty JSON, two-space indent, trailing newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(&Value::Object(self.ordered()))
            .expect("JSON maps always serialise");
        s.push('\n');
        s
    }

    /// Writes atomically (temp file, fsync, rename). Mode 0644: the file holds no secrets.
    pub fn write(&self, path: &Path) -> Result<(), ConfigFileError> {
        fsutil::write_atomic(path, self.to_json().as_bytes(), 0o644).map_err(|source| {
            ConfigFileError::Write {
                path: path.into(),
                source,
            }
        })
    }

    /// Every external secret in the document, with its JSON path (`a.b[2].c`).
    pub fn external_secrets(&self) -> Vec<(String, ExternalSecret)> {
        let mut out = Vec::new();
        for (k, v) in &self.map {
            collect_external(k, v, &mut out);
        }
        out
    }

    /// Replaces external secrets with the values `resolve` returns for their SSM keys, then
    /// checks the result parses as an [`InfraConfig`].
    pub fn resolve<F>(&self, mut resolve: F) -> Result<InfraConfig, ConfigFileError>
    where
        F: FnMut(&ExternalSecret) -> Result<String, String>,
    {
        if let Some(region) = self.map.get("region")
            && ExternalSecret::from_value(region).is_some()
        {
            return Err(ConfigFileError::Invalid {
                key: "region".into(),
                message: "region cannot be an external secret; write the region itself".into(),
            });
        }
        let mut values = Vec::new();
        let mut remember = |s: &ExternalSecret| -> Result<String, String> {
            let v = resolve(s)?;
            values.push(v.clone());
            Ok(v)
        };
        let mut map = Map::new();
        for (k, v) in &self.map {
            map.insert(k.clone(), resolve_value(k, v, &mut remember)?);
        }
        // serde quotes the value it could not use ("invalid type: string \"…\""); a value
        // from SSM may be secret, so it never reaches a message. Masked before the quoted parts
        // are cut: a cut value would no longer match, and its first characters would show.
        serde_json::from_value(Value::Object(map)).map_err(|e| ConfigFileError::Invalid {
            key: "(config)".into(),
            message: shorten_quoted(&mask_values(&e.to_string(), &values)),
        })
    }
}

/// `message` with every form serde quotes a value in replaced: a string as Rust's debug form
/// (`"a\"b"`, with escapes, which the raw value does not match), an integer or a variant in
/// backticks. Only quoted forms, so a short value ("1") does not garble the words around it; the
/// raw value too when it is long enough not to be a coincidence.
fn mask_values(message: &str, values: &[String]) -> String {
    const SHOWN: &str = "<value from SSM, not shown>";
    let mut message = message.to_string();
    for v in values.iter().filter(|v| !v.is_empty()) {
        for form in [format!("{v:?}"), format!("`{v}`")] {
            message = message.replace(&form, SHOWN);
        }
    }
    for v in values.iter().filter(|v| v.chars().count() >= 6) {
        message = message.replace(v.as_str(), SHOWN);
    }
    message
}

fn collect_external(path: &str, v: &Value, out: &mut Vec<(String, ExternalSecret)>) {
    if let Some(s) = ExternalSecret::from_value(v) {
        out.push((path.to_string(), s));
        return;
    }
    match v {
        Value::Object(m) => m
            .iter()
            .for_each(|(k, v)| collect_external(&format!("{path}.{k}"), v, out)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, v)| collect_external(&format!("{path}[{i}]"), v, out)),
        _ => {}
    }
}

fn resolve_value<F>(path: &str, v: &Value, resolve: &mut F) -> Result<Value, ConfigFileError>
where
    F: FnMut(&ExternalSecret) -> Result<String, String>,
{
    if let Some(secret) = ExternalSecret::from_value(v) {
        if secret.system != EXTERNAL_SECRET_SYSTEM {
            return Err(ConfigFileError::Invalid {
                key: path.into(),
                message: format!(
                    "unknown external secret system '{}'; only {EXTERNAL_SECRET_SYSTEM}",
                    secret.system
                ),
            });
        }
        let raw = resolve(&secret).map_err(|message| ConfigFileError::Invalid {
            key: path.into(),
            message,
        })?;
        if raw.is_empty() {
            return Err(ConfigFileError::Invalid {
                key: path.into(),
                message: format!("SSM parameter {} is empty", secret.key),
            });
        }
        return secret
            .coerce(&raw)
            .map_err(|message| ConfigFileError::Invalid {
                key: path.into(),
                message,
            });
    }
    Ok(match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                out.insert(
                    k.clone(),
                    resolve_value(&format!("{path}.{k}"), v, resolve)?,
                );
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(
            a.iter()
                .enumerate()
                .map(|(i, v)| resolve_value(&format!("{path}[{i}]"), v, resolve))
                .collect::<Result<_, _>>()?,
        ),
        other => other.clone(),
    })
}

/// The resolved, typed CDK config. Field names and shapes follow `MedplumInfraConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InfraConfig {
    pub name: String,
    pub stack_name: String,
    pub account_number: String,
    pub region: String,
    pub domain_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosted_zone_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_dns: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    pub api_port: u16,
    pub api_domain_name: String,
    pub api_ssl_cert_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_internet_facing: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_waf_ip_set_arn: Option<String>,
    pub app_domain_name: String,
    pub app_ssl_cert_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_api_proxy: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_waf_ip_set_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_logging_bucket: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_logging_prefix: Option<String>,
    pub storage_bucket_name: String,
    pub storage_domain_name: String,
    pub storage_ssl_cert_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_public_key: Option<String>,
    /// [`RETIRING_SIGNING_KEY`].
    #[serde(
        default,
        rename = "medplumInitRetiringSigningKeyId",
        skip_serializing_if = "Option::is_none"
    )]
    pub retiring_signing_key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_waf_ip_set_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_logging_bucket: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_logging_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    pub max_azs: u32,
    pub rds_instances: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rds_instance_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rds_reader_instance_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rds_instance_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rds_cluster_parameters: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rds_auto_minor_version_upgrade: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rds_secrets_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rds_proxy_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rds_force_retain: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rds_persistent_parameter_groups: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rds_ids_major_version_suffix: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_node_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_security_group_id: Option<String>,
    pub desired_server_count: u32,
    pub server_image: String,
    pub server_memory: u32,
    pub server_cpu: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_containers: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_registry_credentials_secret_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_insights: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_insights_v2: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fargate_auto_scaling: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_security_group_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_logging_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_logging_bucket: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_logging_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_algorithm: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clamscan_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clamscan_logging_bucket: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clamscan_logging_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard_duty_malware_protection_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waf_log_group_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waf_log_group_create: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_trail_alarms: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtls_domain_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtls_ssl_cert_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtls_internet_facing: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtls_waf_ip_set_arn: Option<String>,
    /// Keys this struct does not model (`fireLens`, `workerServices`, the per-purpose Redis
    /// configs, keys a user added). Kept so nothing is lost; the deploy engine refuses the ones
    /// that would change the template and that it cannot honour.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl InfraConfig {
    pub fn from_map(map: Map<String, Value>) -> Result<Self, ConfigFileError> {
        serde_json::from_value(Value::Object(map)).map_err(|e| ConfigFileError::Invalid {
            key: "(config)".into(),
            message: shorten_quoted(&e.to_string()),
        })
    }

    /// Reads a config file that holds no external secrets.
    pub fn read_plain(path: &Path) -> Result<Self, ConfigFileError> {
        let doc = ConfigDocument::read(path)?.ok_or_else(|| ConfigFileError::Read {
            path: path.into(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        })?;
        doc.resolve(|s| Err(format!("external secret {} needs AWS to resolve", s.key)))
    }
}

/// serde quotes the value it could not use (`invalid type: string "…", expected u16`, ``unknown
/// field `…` ``): each quoted part is cut to [`validators::SHOWN_MAX_CHARS`], so a huge value does
/// not push out what was expected.
fn shorten_quoted(message: &str) -> String {
    let mut out = String::new();
    let mut rest = message;
    while let Some(open) = rest.find(['"', '`']) {
        let quote = rest[open..].chars().next().expect("found above");
        out.push_str(&rest[..=open]);
        let inner = &rest[open + 1..];
        match inner.rfind(quote) {
            // The value itself may hold the quote: its last one closes it.
            Some(close) if quote == '"' => {
                out.push_str(&validators::shown(&inner[..close]));
                out.push(quote);
                rest = &inner[close + 1..];
            }
            Some(_) => {
                let close = inner.find(quote).expect("rfind found one");
                out.push_str(&validators::shown(&inner[..close]));
                out.push(quote);
                rest = &inner[close + 1..];
            }
            None => {
                out.push_str(&validators::shown(inner));
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_hand_edited_value_is_shown_escaped_and_cut() {
        // JSON escapes: the file holds them as text, the parsed value the real control bytes.
        let hostile = format!(r"\u001b]0;pwned\u0007\u001b[2J{}", "x".repeat(5000));
        let cases = [
            ("apiPort".to_string(), format!("\"{hostile}\"")),
            (
                "supportEmail".to_string(),
                format!("{{\"system\": \"{hostile}\", \"key\": \"/k\", \"type\": \"string\"}}"),
            ),
            (
                hostile.clone(),
                "{\"system\": \"nope\", \"key\": \"/k\", \"type\": \"string\"}".to_string(),
            ),
        ];
        for (key, value) in cases {
            let text = format!(
                "{{\"name\": \"staging\", \"stackName\": \"MedplumStaging\", \"region\": \"us-east-1\", \"{key}\": {value}}}"
            );
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("medplum.staging.config.json");
            std::fs::write(&path, text).unwrap();
            let e = ConfigDocument::read(&path)
                .unwrap()
                .unwrap()
                .resolve(|_| Err("offline".into()))
                .unwrap_err()
                .to_string();
            assert!(!e.chars().any(|c| c.is_control()), "{e:?}");
            assert!(e.contains("\\u{1b}"), "the escape is shown, escaped: {e:?}");
            assert!(e.chars().count() < 1000, "cut: {} chars", e.chars().count());
        }
    }

    #[test]
    fn serde_messages_keep_what_was_expected_after_a_long_value() {
        let long = format!("\u{1b}[2J{}", "y".repeat(3000));
        let m = shorten_quoted(&format!("invalid type: string \"{long}\", expected u16"));
        assert!(m.ends_with("\", expected u16"), "{m}");
        assert!(m.contains("\\u{1b}[2J") && m.contains('…'), "{m}");
        let m = shorten_quoted("unknown field `a\u{7}b`, expected one of `name`, `region`");
        assert_eq!(
            m,
            "unknown field `a\\u{7}b`, expected one of `name`, `region`"
        );
    }

    #[test]
    fn external_secret_shape_is_recognised_and_coerced() {
        let v = json!({"system": "aws_ssm_parameter_store", "key": "/x/apiPort", "type": "number"});
        let s = ExternalSecret::from_value(&v).unwrap();
        assert_eq!(s.coerce("8103abc").unwrap(), json!(8103));
        let e = s.coerce("hunter2-secret").unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
        assert!(e.contains("/x/apiPort") && e.contains("number"), "{e}");
        let b = ExternalSecret::from_value(
            &json!({"system": "aws_ssm_parameter_store", "key": "/x/flag", "type": "boolean"}),
        )
        .unwrap();
        let e = b.coerce("hunter2-secret").unwrap_err();
        assert!(!e.contains("hunter2") && e.contains("/x/flag"), "{e}");
        assert!(ExternalSecret::from_value(&json!({"system": "x", "key": "y"})).is_none());
    }

    /// The reference config with `apiPort` (a number) read from an SSM string parameter.
    fn reference_with_api_port_from_ssm() -> ConfigDocument {
        let text = include_str!("../../tests/fixtures/reference/medplum.staging.config.json");
        let mut doc = ConfigDocument {
            map: serde_json::from_str(text).unwrap(),
        };
        doc.map.insert(
            "apiPort".into(),
            json!({"system": "aws_ssm_parameter_store", "key": "/x/apiPort", "type": "string"}),
        );
        doc
    }

    #[test]
    fn a_secret_value_of_the_wrong_type_is_not_echoed() {
        let doc = reference_with_api_port_from_ssm();
        let e = doc.resolve(|_| Ok("hunter2-secret".into())).unwrap_err();
        let msg = e.to_string();
        assert!(!msg.contains("hunter2"), "{msg}");
        assert!(msg.contains("not shown"), "{msg}");
    }

    #[test]
    fn a_long_secret_value_is_masked_before_messages_are_cut() {
        // Cut first, the value would no longer match the mask and its first characters would
        // show.
        let doc = reference_with_api_port_from_ssm();
        let secret = format!("s3cr3t-{}", "q".repeat(500));
        let msg = doc.resolve(|_| Ok(secret.clone())).unwrap_err().to_string();
        assert!(!msg.contains("s3cr3t"), "{msg}");
        assert!(msg.contains("not shown"), "{msg}");
    }

    #[test]
    fn ordered_output_puts_known_keys_first_and_keeps_extras() {
        let mut doc = ConfigDocument::default();
        doc.map.insert("myOwnKey".into(), json!(1));
        doc.map.insert("region".into(), json!("us-east-1"));
        doc.map.insert("name".into(), json!("x"));
        let text = doc.to_json();
        assert!(text.ends_with("}\n"));
        let name = text.find("\"name\"").unwrap();
        let region = text.find("\"region\"").unwrap();
        let own = text.find("\"myOwnKey\"").unwrap();
        assert!(name < region && region < own);
    }

    #[test]
    fn set_keeps_external_secrets() {
        let mut doc = ConfigDocument::default();
        let secret =
            json!({"system": "aws_ssm_parameter_store", "key": "/p/img", "type": "string"});
        doc.map.insert("serverImage".into(), secret.clone());
        assert!(!doc.set("serverImage", json!("medplum/medplum-server:latest")));
        assert_eq!(doc.map["serverImage"], secret);
        assert!(doc.set("name", json!("prod")));
    }

    #[test]
    fn reference_config_parses() {
        let text = include_str!("../../tests/fixtures/reference/medplum.staging.config.json");
        let map: Map<String, Value> = serde_json::from_str(text).unwrap();
        let cfg = InfraConfig::from_map(map).unwrap();
        assert_eq!(cfg.stack_name, "MedplumStagingStack");
        assert_eq!(cfg.api_port, 8103);
        assert!(
            cfg.extra.is_empty(),
            "unexpected extras: {:?}",
            cfg.extra.keys().collect::<Vec<_>>()
        );
    }

    #[test]
    fn resolve_replaces_nested_secrets_and_refuses_region() {
        let mut doc = ConfigDocument::default();
        doc.map.insert(
            "region".into(),
            json!({"system": "aws_ssm_parameter_store", "key": "/r", "type": "string"}),
        );
        assert!(doc.resolve(|_| Ok("x".into())).is_err());
    }
}
