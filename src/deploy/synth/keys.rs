//! The config keys that need more than a copy: each parsed and checked on its own, with an error
//! naming the key, and the keys medplum-init refuses, each with the alternative to use.

use serde_json::{Map, Value};

use super::settings::{
    Aurora, AutoScaling, DEFAULT_RDS_INSTANCE_TYPE, DEFAULT_RDS_VERSION, Database, ExtraContainer,
    LogTarget, check, invalid, opt, unsupported,
};
use crate::config::infra::InfraConfig;
use crate::config::validators as v;
use crate::deploy::SynthError;

/// Keys that would change the stack in ways medplum-init cannot reproduce. Each names the
/// alternative.
pub(super) fn refuse_unsupported(c: &InfraConfig) -> Result<(), SynthError> {
    if c.clamscan_enabled == Some(true) {
        return Err(unsupported(
            "clamscanEnabled",
            "cdk-serverless-clamscan needs Docker-built Lambda images and CDK asset buckets",
            "set clamscanEnabled to false and guardDutyMalwareProtectionEnabled to true: GuardDuty \
             Malware Protection for S3 scans the storage bucket with no assets to build",
        ));
    }
    if c.rds_force_retain.is_some() {
        return Err(unsupported(
            "rdsForceRetain",
            "its effect on removal policies is not reproduced by medplum-init",
            "remove rdsForceRetain; the database cluster is always retained on stack deletion",
        ));
    }
    if c.container_registry_credentials_secret_arn.is_some() {
        return Err(unsupported(
            "containerRegistryCredentialsSecretArn",
            "private registry credentials are not wired into the task definition by medplum-init",
            "push the image to ECR in the stack's account and region (serverImage \
             <account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>), which needs no credentials",
        ));
    }
    if c.waf_log_group_name.is_some() || c.waf_log_group_create.is_some() {
        return Err(unsupported(
            "wafLogGroupName",
            "WAF logging configuration is not built by medplum-init",
            "remove wafLogGroupName/wafLogGroupCreate and enable WAF logging in the console",
        ));
    }
    for (key, value) in [
        ("mtlsDomainName", c.mtls_domain_name.is_some()),
        ("mtlsSslCertArn", c.mtls_ssl_cert_arn.is_some()),
        ("mtlsInternetFacing", c.mtls_internet_facing.is_some()),
        ("mtlsWafIpSetArn", c.mtls_waf_ip_set_arn.is_some()),
    ] {
        if value {
            return Err(unsupported(
                key,
                "the mutual-TLS load balancer is not built by medplum-init",
                "remove the mtls* keys, or deploy this environment with the official CDK",
            ));
        }
    }
    for (key, value) in &c.extra {
        match key.as_str() {
            // Read by Medplum's CLI only, or by clamscan when it is on (refused above).
            "clamscanLoggingBucket" | "clamscanLoggingPrefix" => {}
            "guardDutyMalwareProtectionOnDemandOnly" => {}
            "containerInsightsV2" => {}
            // The web app's settings: the app publisher puts them into the JavaScript; the
            // stack does not use them.
            "clientId" | "googleClientId" | "recaptchaSiteKey" | "registerEnabled" => {
                check(key, v::app_setting(key, value))?;
            }
            "$schema" => {}
            "fireLens"
            | "workerServices"
            | "workers"
            | "cacheRedis"
            | "rateLimitRedis"
            | "pubSubRedis"
            | "backgroundJobsRedis"
            | "rdsNewInstanceVersion"
            | "rdsReplaceClusterStep"
            | "additionalServices" => {
                if !value.is_null() {
                    return Err(unsupported(
                        key,
                        "this part of newer Medplum stacks is not built by medplum-init",
                        &format!("remove {key}, or deploy this environment with the official CDK"),
                    ));
                }
            }
            other => {
                return Err(invalid(
                    other,
                    "not a Medplum CDK config key medplum-init knows",
                    "check the spelling (keys are case-sensitive), or remove it",
                ));
            }
        }
    }
    Ok(())
}

pub(super) fn database(c: &InfraConfig) -> Result<Database, SynthError> {
    if let Some(arn) = opt(&c.rds_secrets_arn) {
        check(
            "rdsSecretsArn",
            v::service_arn(
                arn,
                "secretsmanager",
                "secret:",
                "arn:aws:secretsmanager:<region>:<account>:secret:<name>",
            ),
        )?;
        return Ok(Database::External {
            secret_arn: arn.to_string(),
        });
    }
    if c.rds_instances == 0 {
        return Err(invalid(
            "rdsInstances",
            "0 database instances",
            "use 1 (a writer) or more (a writer and readers)",
        ));
    }
    let version = opt(&c.rds_instance_version)
        .unwrap_or(DEFAULT_RDS_VERSION)
        .to_string();
    check("rdsInstanceVersion", v::rds_version(&version))?;
    let Some((major, _)) = version.split_once('.') else {
        return Err(invalid(
            "rdsInstanceVersion",
            format!("'{version}' has no minor version"),
            "write major.minor, such as 16.9",
        ));
    };
    let class = |key: &str, t: Option<&str>| -> Result<String, SynthError> {
        let t = t.unwrap_or(DEFAULT_RDS_INSTANCE_TYPE);
        check(key, v::rds_instance_type(t))?;
        Ok(format!("db.{t}"))
    };
    let writer_class = class("rdsInstanceType", opt(&c.rds_instance_type))?;
    let reader_class = class(
        "rdsReaderInstanceType",
        opt(&c.rds_reader_instance_type).or(opt(&c.rds_instance_type)),
    )?;
    let persistent_groups = c.rds_persistent_parameter_groups == Some(true);
    let ids_suffix = c.rds_ids_major_version_suffix == Some(true);
    // The CDK throws the same: the suffixed cluster's instances use the persistent groups.
    if ids_suffix && !persistent_groups {
        return Err(invalid(
            "rdsIdsMajorVersionSuffix",
            "true without rdsPersistentParameterGroups",
            "set rdsPersistentParameterGroups to true as well (the suffixed cluster's instances \
             use the persistent parameter groups)",
        ));
    }
    let mut parameters = Map::new();
    parameters.insert("statement_timeout".into(), "60000".into());
    parameters.insert(
        "default_transaction_isolation".into(),
        "REPEATABLE READ".into(),
    );
    for (k, val) in c.rds_cluster_parameters.iter().flatten() {
        let Some(s) = val.as_str() else {
            return Err(invalid(
                "rdsClusterParameters",
                format!("{k} is not a string"),
                format!("write \"{k}\": \"{val}\" (parameter values are strings)"),
            ));
        };
        parameters.insert(k.clone(), s.into());
    }
    Ok(Database::Aurora(Aurora {
        major: major.to_string(),
        version,
        instances: c.rds_instances,
        writer_class,
        reader_class,
        parameters,
        auto_minor_version_upgrade: c.rds_auto_minor_version_upgrade,
        persistent_groups,
        ids_suffix,
        proxy: c.rds_proxy_enabled == Some(true),
    }))
}

/// Fargate accepts only these CPU/memory pairs; checking here fails fast instead of minutes into a
/// deploy.
pub(super) fn fargate_size(cpu: u32, memory: u32) -> Result<(), SynthError> {
    let (lo, hi, step) = match cpu {
        256 => (512, 2048, 512),
        512 => (1024, 4096, 1024),
        1024 => (2048, 8192, 1024),
        2048 => (4096, 16384, 1024),
        4096 => (8192, 30720, 1024),
        8192 => (16384, 61440, 4096),
        16384 => (32768, 122880, 8192),
        _ => {
            return Err(invalid(
                "serverCpu",
                format!("{cpu} is not a Fargate CPU size"),
                "use 256, 512, 1024, 2048, 4096, 8192 or 16384",
            ));
        }
    };
    let ok = if cpu == 256 {
        [512, 1024, 2048].contains(&memory)
    } else {
        (lo..=hi).contains(&memory) && (memory - lo).is_multiple_of(step)
    };
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "serverMemory",
            format!("{memory} MiB does not go with serverCpu {cpu}"),
            format!("with {cpu} CPU units Fargate takes {lo} to {hi} MiB in steps of {step}"),
        ))
    }
}

pub(super) fn string_map(
    key: &str,
    m: Option<&Map<String, Value>>,
) -> Result<Vec<(String, String)>, SynthError> {
    let mut out = Vec::new();
    for (k, val) in m.into_iter().flatten() {
        let s = match val {
            Value::String(s) => s.clone(),
            other => {
                return Err(invalid(
                    key,
                    format!("{k} is {other}, not a string"),
                    format!("quote the value: \"{k}\": \"{other}\""),
                ));
            }
        };
        out.push((k.clone(), s));
    }
    Ok(out)
}

pub(super) fn extra_containers(c: &InfraConfig) -> Result<Vec<ExtraContainer>, SynthError> {
    let mut out = Vec::new();
    for (i, item) in c.additional_containers.iter().flatten().enumerate() {
        let key = format!("additionalContainers[{i}]");
        let Some(obj) = item.as_object() else {
            return Err(invalid(
                &key,
                "not an object",
                "write {\"name\": …, \"image\": …}",
            ));
        };
        for k in obj.keys() {
            match k.as_str() {
                "name" | "image" | "command" | "environment" | "essential" => {}
                "cpu" | "memory" => {
                    return Err(invalid(
                        &format!("{key}.{k}"),
                        "Medplum's CDK does not apply it (the task's size is shared)",
                        "remove it; size the task with serverCpu and serverMemory",
                    ));
                }
                other => {
                    return Err(invalid(
                        &format!("{key}.{other}"),
                        "not a key of an additional container",
                        "use name, image, command, environment and essential",
                    ));
                }
            }
        }
        let s = |k: &str| obj.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
        let name = s("name")
            .ok_or_else(|| invalid(&format!("{key}.name"), "missing", "name the container"))?;
        let image = s("image").ok_or_else(|| {
            invalid(
                &format!("{key}.image"),
                "missing",
                "give the container's image",
            )
        })?;
        check(&format!("{key}.image"), v::image(image))?;
        let command = match obj.get("command") {
            None | Some(Value::Null) => None,
            Some(Value::Array(a)) => Some(
                a.iter()
                    .map(|x| x.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| {
                        invalid(
                            &format!("{key}.command"),
                            "not a list of strings",
                            "write [\"arg\", …]",
                        )
                    })?,
            ),
            Some(_) => {
                return Err(invalid(
                    &format!("{key}.command"),
                    "not a list",
                    "write [\"arg\", …]",
                ));
            }
        };
        let environment = string_map(
            &format!("{key}.environment"),
            obj.get("environment").and_then(Value::as_object),
        )?;
        out.push(ExtraContainer {
            name: name.to_string(),
            image: image.to_string(),
            command,
            environment,
            essential: obj
                .get("essential")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        });
    }
    Ok(out)
}

pub(super) fn container_insights(c: &InfraConfig) -> Result<Option<String>, SynthError> {
    let v2 = c
        .extra
        .get("containerInsightsV2")
        .or(c.container_insights_v2.as_ref());
    match (c.container_insights, v2) {
        (Some(_), Some(_)) => Err(invalid(
            "containerInsightsV2",
            "both containerInsights and containerInsightsV2 are set",
            "keep one: containerInsightsV2 (\"enhanced\", \"enabled\" or \"disabled\") supersedes it",
        )),
        (Some(b), None) => Ok(Some(if b { "enabled" } else { "disabled" }.into())),
        (None, Some(Value::String(s)))
            if ["enhanced", "enabled", "disabled"].contains(&s.as_str()) =>
        {
            Ok(Some(s.clone()))
        }
        (None, Some(other)) => Err(invalid(
            "containerInsightsV2",
            format!("{other} is not a Container Insights setting"),
            "use \"enhanced\", \"enabled\" or \"disabled\"",
        )),
        (None, None) => Ok(None),
    }
}

pub(super) fn autoscaling(c: &InfraConfig) -> Result<Option<AutoScaling>, SynthError> {
    let Some(v) = &c.fargate_auto_scaling else {
        return Ok(None);
    };
    let obj = v.as_object().ok_or_else(|| {
        invalid(
            "fargateAutoScaling",
            "not an object",
            "write {\"minCapacity\": 1, …}",
        )
    })?;
    let n = |k: &str| -> Result<f64, SynthError> {
        obj.get(k).and_then(Value::as_f64).ok_or_else(|| {
            invalid(
                &format!("fargateAutoScaling.{k}"),
                "missing or not a number",
                "set minCapacity, maxCapacity, targetUtilizationPercent, scaleInCooldown and \
                 scaleOutCooldown (seconds)",
            )
        })
    };
    let a = AutoScaling {
        min: n("minCapacity")? as u64,
        max: n("maxCapacity")? as u64,
        target_cpu: n("targetUtilizationPercent")?,
        scale_in_cooldown: n("scaleInCooldown")? as u64,
        scale_out_cooldown: n("scaleOutCooldown")? as u64,
    };
    if a.min > a.max {
        return Err(invalid(
            "fargateAutoScaling.minCapacity",
            format!("{} is above maxCapacity {}", a.min, a.max),
            "make minCapacity at most maxCapacity",
        ));
    }
    Ok(Some(a))
}

pub(super) fn log_target(
    key: &str,
    bucket: &Option<String>,
    prefix: &Option<String>,
) -> Result<Option<LogTarget>, SynthError> {
    match opt(bucket) {
        Some(b) => {
            check(key, v::bucket_name(b))?;
            Ok(Some(LogTarget {
                bucket: b.to_string(),
                prefix: prefix.clone(),
            }))
        }
        None => Ok(None),
    }
}

/// `loadBalancerLoggingBucket` turns access logs on, as in the CDK; `loadBalancerLoggingEnabled:
/// false` turns them off even with a bucket (the CDK ignores the flag), and `true` without a
/// bucket is an error rather than a silent no-op.
pub(super) fn lb_logging(c: &InfraConfig) -> Result<Option<LogTarget>, SynthError> {
    let target = log_target(
        "loadBalancerLoggingBucket",
        &c.load_balancer_logging_bucket,
        &c.load_balancer_logging_prefix,
    )?;
    match (c.load_balancer_logging_enabled, target) {
        (Some(false), _) => Ok(None),
        (Some(true), None) => Err(invalid(
            "loadBalancerLoggingBucket",
            "loadBalancerLoggingEnabled is true but no bucket is named",
            "set loadBalancerLoggingBucket to a bucket whose policy lets the load balancer write",
        )),
        (_, t) => Ok(t),
    }
}

pub(super) fn guardduty(c: &InfraConfig) -> Result<Option<bool>, SynthError> {
    let on_demand = match c.extra.get("guardDutyMalwareProtectionOnDemandOnly") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(invalid(
                "guardDutyMalwareProtectionOnDemandOnly",
                format!("{other} is not true or false"),
                "write true or false",
            ));
        }
    };
    Ok((c.guard_duty_malware_protection_enabled == Some(true)).then_some(on_demand))
}
