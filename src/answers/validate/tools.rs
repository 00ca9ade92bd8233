//! medplum-init's own step tables: certificates, email, logging, bot layer, parameters, deploy.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value};

use super::super::source::{Entry, Table, Val};
use super::super::{CertChoice, CertificateAnswers, EmailIdentity, keys};
use super::Validator;
use crate::config::US_EAST_1;
use crate::config::validators;

impl Validator {
    #[allow(clippy::type_complexity)]
    pub(super) fn tool(
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
            .unwrap_or(US_EAST_1)
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
            US_EAST_1,
            "CloudFront only uses certificates from us-east-1",
        );
        let storage = cert(
            "storage",
            "storageSslCertArn",
            US_EAST_1,
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

pub(super) fn spec_name(name: &str) -> &'static str {
    keys::TOOL_TABLES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(n, _)| *n)
        .expect("known table")
}
