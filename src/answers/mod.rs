//! The answers model: what the user wants, from an answers file (headless), the TUI or the line
//! prompts. All three produce TOML text that goes through [`Answers::from_toml`], so every front
//! end applies the same parsing, defaults and validation, and reports every problem at once.

pub mod keys;
pub mod source;
pub mod template;
pub mod validators;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};

use crate::config::{derive, server};
use crate::crypto::Secret;
use keys::Ty;
use source::{Entry, Node, Table, Val};

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

impl std::fmt::Display for AnswersInvalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.errors.len();
        writeln!(
            f,
            "{} has {n} problem{}:",
            self.origin,
            if n == 1 { "" } else { "s" }
        )?;
        for e in &self.errors {
            writeln!(f, "  {}", e.to_string().replace('\n', "\n  "))?;
        }
        Ok(())
    }
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
}

/// Medplum's container image when the answers name none.
pub const DEFAULT_SERVER_IMAGE: &str = "medplum/medplum-server:latest";
/// Redis node type written when none is given: Medplum's CDK default, cache.t2.medium, is rejected
/// for new clusters (medplum/medplum#8985), so the config names one AWS accepts.
pub const DEFAULT_CACHE_NODE_TYPE: &str = "cache.t4g.medium";

impl Answers {
    pub fn load(path: &Path, overrides: &Overrides) -> Result<Self, AnswersInvalid> {
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| AnswersInvalid {
            origin: source.clone(),
            errors: vec![AnswerError::new(
                "(file)",
                None,
                format!("cannot read it: {e}"),
                "check the path given to --answers",
            )],
        })?;
        Self::from_toml(&text, &source, overrides)
    }

    pub fn from_toml(
        text: &str,
        source: &str,
        overrides: &Overrides,
    ) -> Result<Self, AnswersInvalid> {
        let invalid = |errors| AnswersInvalid {
            origin: source.to_string(),
            errors,
        };
        let table = source::parse(text).map_err(invalid)?;
        let mut v = Validator::default();
        let answers = v.run(&table, source, overrides);
        if v.errors.is_empty() {
            let mut a = answers.expect("no errors means complete answers");
            a.warnings = v.warnings;
            Ok(a)
        } else {
            Err(invalid(v.errors))
        }
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

#[derive(Default)]
struct Validator {
    errors: Vec<AnswerError>,
    warnings: Vec<AnswerError>,
}

/// The line of a top-level key, for cross-field errors.
fn line_of(table: &Table, key: &str) -> Option<usize> {
    table.get(key).map(|e| e.line)
}

impl Validator {
    fn err(&mut self, key: &str, line: Option<usize>, (problem, fix): (String, String)) {
        self.errors.push(AnswerError {
            key: key.into(),
            line,
            problem,
            fix,
        });
    }

    fn check(&mut self, key: &str, line: Option<usize>, result: validators::Check) {
        if let Err(pf) = result {
            self.err(key, line, pf);
        }
    }

    fn type_error(&mut self, key: &str, e: &Entry, want: Ty) {
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
    fn typed(&mut self, key: &str, e: &Entry, ty: Ty) -> Option<Value> {
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

    fn run(&mut self, table: &Table, source: &str, ov: &Overrides) -> Option<Answers> {
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
                    Val::Table(t) => flatten_server(t, "", &mut server_entries),
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
                                        tool.push((spec_name(&e.key), inner));
                                    }
                                }
                                None => {
                                    let hint = keys::did_you_mean(
                                        &inner.key,
                                        spec.iter().map(|(k, _)| *k),
                                    )
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
                let hint = keys::did_you_mean(&e.key, keys::top_level_names())
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
        let server = self.server(&server_entries, server_line, &cdk);
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
        set(cdk, "region", Value::String("us-east-1".into()));
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

    fn check_cdk_values(&mut self, cdk: &Map<String, Value>, table: &Table) {
        use validators as v;
        let region = cdk
            .get("region")
            .and_then(Value::as_str)
            .unwrap_or("us-east-1")
            .to_string();
        for (key, value) in cdk {
            let line = line_of(table, key);
            if let Some(s) = value.as_str() {
                let r = match key.as_str() {
                    "name" => v::env_name(s),
                    "stackName" => v::stack_name(s),
                    "accountNumber" => v::account_number(s),
                    "region" => v::region(s),
                    "domainName" | "hostedZoneName" | "apiDomainName" | "appDomainName"
                    | "storageDomainName" | "mtlsDomainName" => v::domain(s),
                    "apiSslCertArn" => {
                        v::acm_arn(s, &region, "the API load balancer is in the stack's region")
                    }
                    "mtlsSslCertArn" => v::acm_arn(
                        s,
                        &region,
                        "the mTLS load balancer is in the stack's region",
                    ),
                    "appSslCertArn" => v::acm_arn(
                        s,
                        "us-east-1",
                        "CloudFront only uses certificates from us-east-1",
                    ),
                    "storageSslCertArn" => v::acm_arn(
                        s,
                        "us-east-1",
                        "CloudFront only uses certificates from us-east-1",
                    ),
                    "storageBucketName"
                    | "appLoggingBucket"
                    | "storageLoggingBucket"
                    | "loadBalancerLoggingBucket"
                    | "clamscanLoggingBucket" => v::bucket_name(s),
                    "vpcId" => v::aws_id(s, "vpc"),
                    "cacheSecurityGroupId" | "loadBalancerSecurityGroupId" => v::aws_id(s, "sg"),
                    "serverImage" => v::image(s),
                    "baseUrl" => v::https_url(s),
                    "rdsInstanceType" | "rdsReaderInstanceType" => v::rds_instance_type(s),
                    "rdsInstanceVersion" => v::rds_version(s),
                    "cacheNodeType" => {
                        if s.starts_with("cache.t2.") {
                            self.warnings.push(AnswerError::new(
                                key,
                                line,
                                format!("{s} is rejected by ElastiCache for new clusters"),
                                format!("use {DEFAULT_CACHE_NODE_TYPE} unless the cluster already exists"),
                            ));
                        }
                        v::cache_node_type(s)
                    }
                    "signingKeyId" => v::cloudfront_key_id(s),
                    "storagePublicKey" => match crate::crypto::keypair::public_key_bits(s) {
                        Ok(2048) => Ok(()),
                        Ok(bits) => Err((
                            format!("the key has {bits} bits"),
                            "CloudFront takes RSA-2048 keys".into(),
                        )),
                        Err(e) => Err((
                            e.to_string(),
                            "paste the PEM that starts with -----BEGIN PUBLIC KEY-----".into(),
                        )),
                    },
                    "apiWafIpSetArn" | "mtlsWafIpSetArn" => v::service_arn(
                        s,
                        "wafv2",
                        "regional/ipset/",
                        "arn:aws:wafv2:<region>:<account>:regional/ipset/<name>/<id>",
                    ),
                    "appWafIpSetArn" | "storageWafIpSetArn" => v::service_arn(
                        s,
                        "wafv2",
                        "global/ipset/",
                        "arn:aws:wafv2:us-east-1:<account>:global/ipset/<name>/<id>",
                    ),
                    "rdsSecretsArn" | "containerRegistryCredentialsSecretArn" => v::service_arn(
                        s,
                        "secretsmanager",
                        "secret:",
                        "arn:aws:secretsmanager:<region>:<account>:secret:<name>",
                    ),
                    "loadBalancerAlgorithm" => match s {
                        "round_robin" | "least_outstanding_requests" | "weighted_random" => Ok(()),
                        _ => Err((
                            format!("'{s}' is not a load balancing algorithm"),
                            "use round_robin, least_outstanding_requests or weighted_random".into(),
                        )),
                    },
                    _ => Ok(()),
                };
                // A default that fails (storageBucketName from a long storage domain, say).
                let r = r.map_err(|(p, f)| {
                    if line.is_none() {
                        (
                            format!("{p} (the default)"),
                            format!("set {key} explicitly; {f}"),
                        )
                    } else {
                        (p, f)
                    }
                });
                self.check(key, line, r);
            }
            if let Some(n) = value.as_i64() {
                let r = match key.as_str() {
                    "apiPort" if !(1..=65535).contains(&n) => Err((
                        format!("{n} is not a TCP port"),
                        "use a port from 1 to 65535; Medplum's server listens on 8103".into(),
                    )),
                    "maxAzs" if !(2..=99).contains(&n) => Err((
                        format!("{n} availability zones"),
                        "use 2 or more (the load balancer and Aurora need two zones); 99 means all"
                            .into(),
                    )),
                    "rdsInstances" if !(1..=16).contains(&n) => Err((
                        format!("{n} instances"),
                        "use 1 (writer only) up to 16 (writer + 15 readers)".into(),
                    )),
                    "desiredServerCount" if !(0..=1000).contains(&n) => {
                        Err((format!("{n} servers"), "use a count from 0 to 1000".into()))
                    }
                    _ => Ok(()),
                };
                self.check(key, line, r);
            }
        }
        let int = |k: &str| cdk.get(k).and_then(Value::as_i64);
        if let (Some(cpu), Some(mem)) = (int("serverCpu"), int("serverMemory")) {
            let r = validators::fargate(cpu as u32, mem as u32);
            let line = line_of(table, "serverMemory").or(line_of(table, "serverCpu"));
            self.check(
                if table.get("serverMemory").is_some() {
                    "serverMemory"
                } else {
                    "serverCpu"
                },
                line,
                r,
            );
        }
        let s = |k: &str| cdk.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
        let skip_dns = cdk.get("skipDns").and_then(Value::as_bool).unwrap_or(false);
        if let Some(zone) = s("hostedZoneName").or(s("domainName"))
            && !skip_dns
        {
            for k in ["apiDomainName", "appDomainName", "storageDomainName"] {
                if let Some(d) = s(k)
                    && !validators::is_within(d, zone)
                {
                    self.err(
                        k,
                        line_of(table, k),
                        (
                            format!("{d} is not in the hosted zone {zone}, so its DNS record cannot be created"),
                            format!("use a name under {zone}, set hostedZoneName, or set skipDns = true to manage DNS yourself"),
                        ),
                    );
                }
            }
        }
        if let (Some(app), Some(bucket)) = (s("appDomainName"), s("storageBucketName"))
            && app == bucket
        {
            self.err(
                "storageBucketName",
                line_of(table, "storageBucketName"),
                (
                    format!(
                        "'{bucket}' is also the app bucket (Medplum names it after appDomainName)"
                    ),
                    "choose another storage bucket name".into(),
                ),
            );
        }
        if cdk
            .get("loadBalancerLoggingEnabled")
            .and_then(Value::as_bool)
            == Some(true)
            && s("loadBalancerLoggingBucket").is_none()
        {
            self.err(
                "loadBalancerLoggingBucket",
                line_of(table, "loadBalancerLoggingEnabled"),
                ("loadBalancerLoggingEnabled is true but no bucket is named".into(), "set loadBalancerLoggingBucket (and [logging] create_bucket = true to have it created)".into()),
            );
        }
        if cdk.get("rdsIdsMajorVersionSuffix").and_then(Value::as_bool) == Some(true)
            && cdk
                .get("rdsPersistentParameterGroups")
                .and_then(Value::as_bool)
                != Some(true)
        {
            self.err(
                "rdsIdsMajorVersionSuffix",
                line_of(table, "rdsIdsMajorVersionSuffix"),
                (
                    "requires rdsPersistentParameterGroups".into(),
                    "set rdsPersistentParameterGroups = true as well".into(),
                ),
            );
        }
        if let (Some(acct), Some(arn)) = (s("accountNumber"), s("apiSslCertArn"))
            && let Some(cert_acct) = arn.split(':').nth(4)
            && cert_acct != acct
        {
            self.warnings.push(AnswerError::new(
                "apiSslCertArn",
                line_of(table, "apiSslCertArn"),
                format!("the certificate belongs to account {cert_acct}, not {acct}"),
                "check the ARN; the load balancer can only use certificates of its own account",
            ));
        }
    }

    fn server(
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
                let hint = keys::did_you_mean(key, server::SERVER_KEYS.iter().map(|k| k.key))
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

    #[allow(clippy::type_complexity)]
    fn tool(
        &mut self,
        entries: &[(&str, &Entry)],
        cdk: &Map<String, Value>,
        table: &Table,
    ) -> Option<(
        CertificateAnswers,
        EmailIdentity,
        bool,
        Option<PathBuf>,
        bool,
        bool,
    )> {
        let get = |t: &str, k: &str| {
            entries
                .iter()
                .find(|(tt, e)| *tt == t && e.key == k)
                .map(|(_, e)| *e)
        };
        let boolean = |t: &str, k: &str, d: bool| {
            get(t, k)
                .and_then(|e| {
                    if let Val::Bool(b) = e.node.value {
                        Some(b)
                    } else {
                        None
                    }
                })
                .unwrap_or(d)
        };
        let region = cdk
            .get("region")
            .and_then(Value::as_str)
            .unwrap_or("us-east-1")
            .to_string();

        let mut cert = |name: &str, cdk_key: &str, cert_region: &str, why: &str| -> CertChoice {
            let from_cdk = cdk
                .get(cdk_key)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty());
            let entry = get("certificates", name);
            let choice = match entry.map(|e| &e.node.value) {
                Some(Val::Str(s)) => match s.as_str() {
                    "auto" => CertChoice::Auto,
                    "request" => CertChoice::Request,
                    "skip" => CertChoice::Skip,
                    arn if arn.starts_with("arn:") => {
                        let r = validators::acm_arn(arn, cert_region, why);
                        self.check(&format!("certificates.{name}"), entry.map(|e| e.line), r);
                        CertChoice::Arn(arn.to_string())
                    }
                    other => {
                        self.err(
                            &format!("certificates.{name}"),
                            entry.map(|e| e.line),
                            (
                                format!("'{other}' is not a certificate choice"),
                                "use \"auto\", \"request\", \"skip\" or a certificate ARN".into(),
                            ),
                        );
                        CertChoice::Auto
                    }
                },
                _ => CertChoice::Auto,
            };
            match (from_cdk, &choice) {
                (Some(arn), CertChoice::Auto) => CertChoice::Arn(arn.to_string()),
                (Some(arn), CertChoice::Arn(other)) if arn == other => choice,
                (Some(_), _) => {
                    self.err(
                        &format!("certificates.{name}"),
                        entry.map(|e| e.line),
                        (format!("{cdk_key} names a certificate, and [certificates] {name} says otherwise"), format!("keep one of the two: {cdk_key} or certificates.{name}")),
                    );
                    choice
                }
                (None, _) => choice,
            }
        };
        let api = cert(
            "api",
            "apiSslCertArn",
            &region,
            "the API load balancer is in the stack's region",
        );
        let app = cert(
            "app",
            "appSslCertArn",
            "us-east-1",
            "CloudFront only uses certificates from us-east-1",
        );
        let storage = cert(
            "storage",
            "storageSslCertArn",
            "us-east-1",
            "CloudFront only uses certificates from us-east-1",
        );

        let timeout =
            match get("certificates", "wait_timeout_minutes").map(|e| (&e.node.value, e.line)) {
                Some((Val::Int(m), line)) => {
                    if !(1..=4320).contains(m) {
                        self.err(
                            "certificates.wait_timeout_minutes",
                            Some(line),
                            (format!("{m} minutes"), "use 1 to 4320 (three days)".into()),
                        );
                    }
                    Duration::from_secs((*m).clamp(1, 4320) as u64 * 60)
                }
                _ => Duration::from_secs(30 * 60),
            };
        let certificates = CertificateAnswers {
            api,
            app,
            storage,
            dns_records: boolean("certificates", "dns_records", true),
            wait: boolean("certificates", "wait", false),
            wait_timeout: timeout,
        };

        let email = match get("email", "identity").map(|e| (&e.node.value, e.line)) {
            Some((Val::Str(s), line)) => match s.as_str() {
                "address" => EmailIdentity::Address,
                "domain" => EmailIdentity::Domain,
                "skip" => EmailIdentity::Skip,
                other => {
                    self.err(
                        "email.identity",
                        Some(line),
                        (
                            format!("'{other}' is not an identity kind"),
                            "use \"address\", \"domain\" or \"skip\"".into(),
                        ),
                    );
                    EmailIdentity::Address
                }
            },
            _ => EmailIdentity::Address,
        };

        let create_logging_bucket = boolean("logging", "create_bucket", false);
        if create_logging_bucket
            && ["loadBalancerLoggingBucket", "clamscanLoggingBucket"]
                .iter()
                .all(|k| {
                    cdk.get(*k)
                        .and_then(Value::as_str)
                        .is_none_or(str::is_empty)
                })
        {
            self.err(
                "logging.create_bucket",
                get("logging", "create_bucket").map(|e| e.line),
                (
                    "there is no bucket to create".into(),
                    "set loadBalancerLoggingBucket to the bucket's name".into(),
                ),
            );
        }

        let bot_layer_zip = match get("bot_layer", "zip").map(|e| (&e.node.value, e.line)) {
            Some((Val::Str(p), line)) => {
                let path = PathBuf::from(p);
                if !p.ends_with(".zip") {
                    self.err(
                        "bot_layer.zip",
                        Some(line),
                        (
                            format!("'{p}' is not a .zip file"),
                            "build the layer with Medplum's deploy-bot-layer.sh and give the zip"
                                .into(),
                        ),
                    );
                }
                Some(path)
            }
            _ => None,
        };
        let _ = table;
        Some((
            certificates,
            email,
            create_logging_bucket,
            bot_layer_zip,
            boolean("parameters", "apply", false),
            boolean("deploy", "enabled", false),
        ))
    }
}

fn spec_name(name: &str) -> &'static str {
    keys::TOOL_TABLES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(n, _)| *n)
        .expect("known table")
}

/// `[server] database.ssl.require = true` is a nested table in TOML; the parameter is
/// `database.ssl.require`. JSON-typed keys (`smtp`, `bullmq`, ...) stay whole.
fn flatten_server<'a>(t: &'a Table, prefix: &str, out: &mut Vec<(String, usize, &'a Node)>) {
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

#[cfg(test)]
mod tests;
