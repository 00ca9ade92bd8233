//! Checks of the CDK keys' values, one by one and against each other.

use serde_json::{Map, Value};

use super::super::AnswerError;
use super::super::source::{Table, Val};
use super::{Validator, line_of};
use crate::config::US_EAST_1;
use crate::config::infra::DEFAULT_CACHE_NODE_TYPE;
use crate::config::validators;

impl Validator {
    pub(super) fn check_cdk_values(&mut self, cdk: &Map<String, Value>, table: &Table) {
        use validators as v;
        let region = cdk
            .get("region")
            .and_then(Value::as_str)
            .unwrap_or(US_EAST_1)
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
                        US_EAST_1,
                        "CloudFront only uses certificates from us-east-1",
                    ),
                    "storageSslCertArn" => v::acm_arn(
                        s,
                        US_EAST_1,
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
                    "clientId" => v::fhir_id(s),
                    "googleClientId" => v::app_token(s, validators::GOOGLE_CLIENT_ID_EXAMPLE),
                    "recaptchaSiteKey" => v::app_token(s, validators::RECAPTCHA_SITE_KEY_EXAMPLE),
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
                let in_file = self.in_file.clone();
                let r = r.map_err(|(p, f)| {
                    if let Some(file) = &in_file {
                        (
                            format!("{p} (in {file})"),
                            format!("fix {key} in {file}, or give it in the answers; {f}"),
                        )
                    } else if line.is_none() {
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
        // Checked as u32 only once each fits: a cast would wrap 4294967552 to 256 and pass.
        let mut int = |k: &str| {
            let n = cdk.get(k).and_then(Value::as_i64)?;
            match u32::try_from(n) {
                Ok(n) => Some(n),
                Err(_) => {
                    let (what, allowed) = if k == "serverCpu" {
                        (
                            "CPU units",
                            "256 to 16384 (256, 512, 1024, 2048, 4096, 8192 or 16384)",
                        )
                    } else {
                        ("MiB", "512 to 122880 (what Fargate allows for serverCpu)")
                    };
                    self.err(
                        k,
                        line_of(table, k),
                        (
                            format!("{n} {what} is out of range"),
                            format!("use {allowed}"),
                        ),
                    );
                    None
                }
            }
        };
        if let (Some(cpu), Some(mem)) = (int("serverCpu"), int("serverMemory")) {
            let r = validators::fargate(cpu, mem);
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
        if let Some(alarms) = cdk.get("cloudTrailAlarms")
            && let Err((key, problem, fix)) = crate::config::cloudtrail::parse(alarms)
        {
            // The line of the nested key when it is there, else the table's.
            let nested = key.strip_prefix("cloudTrailAlarms.").and_then(|k| {
                match &table.get("cloudTrailAlarms")?.node.value {
                    Val::Table(t) => line_of(t, k),
                    _ => None,
                }
            });
            let line = nested.or(line_of(table, "cloudTrailAlarms"));
            self.err(&key, line, (problem, fix));
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
}
