//! The config, checked and with every default applied, in the shape the builders need. Every key
//! of `MedplumInfraConfig` is either honoured here or refused with an error that names it: a key
//! that would change the stack is never dropped silently.

use serde_json::{Map, Value};

use super::super::{Lookups, SynthError};
use crate::answers::validators as v;
use crate::config::infra::InfraConfig;

/// Aurora PostgreSQL version when `rdsInstanceVersion` is absent: upstream Medplum's current
/// default (12.9 in @medplum/cdk 4.0.2 runs on paid RDS Extended Support).
pub const DEFAULT_RDS_VERSION: &str = "16.9";
/// RDS instance class (without `db.`) when `rdsInstanceType` is absent: the CDK's default.
pub const DEFAULT_RDS_INSTANCE_TYPE: &str = "t3.medium";
/// Redis node type when `cacheNodeType` is absent: the CDK's cache.t2.medium is refused for new
/// clusters (medplum/medplum#8985).
pub const DEFAULT_CACHE_NODE_TYPE: &str = crate::answers::DEFAULT_CACHE_NODE_TYPE;
/// When the context holds no availability zones, the template selects them with `Fn::GetAZs`;
/// every commercial region offers at least three, more would be a guess.
pub const MAX_AZS_WITHOUT_LOOKUP: u32 = 3;

/// Where the subnets' availability zones come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Azs {
    /// Names from the context (`availability-zones:account=…:region=…`), first `maxAzs` of them.
    Named(Vec<String>),
    /// `Fn::Select [i, Fn::GetAZs ""]` for this many zones.
    Selected(u32),
}

impl Azs {
    pub fn count(&self) -> usize {
        match self {
            Azs::Named(n) => n.len(),
            Azs::Selected(n) => *n as usize,
        }
    }

    pub fn value(&self, i: usize) -> Value {
        match self {
            Azs::Named(n) => Value::String(n[i].clone()),
            Azs::Selected(_) => serde_json::json!({"Fn::Select": [i, {"Fn::GetAZs": ""}]}),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Database {
    /// An Aurora cluster created by the stack.
    Aurora(Aurora),
    /// `rdsSecretsArn`: the user's own database; the stack only publishes the secret's ARN.
    External { secret_arn: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Aurora {
    pub version: String,
    pub major: String,
    pub instances: u32,
    pub writer_class: String,
    pub reader_class: String,
    pub parameters: Map<String, Value>,
    pub auto_minor_version_upgrade: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExtraContainer {
    pub name: String,
    pub image: String,
    pub command: Option<Vec<String>>,
    pub environment: Vec<(String, String)>,
    pub essential: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AutoScaling {
    pub min: u64,
    pub max: u64,
    pub target_cpu: f64,
    pub scale_in_cooldown: u64,
    pub scale_out_cooldown: u64,
}

/// A bucket and prefix that access logs go to.
#[derive(Debug, Clone, PartialEq)]
pub struct LogTarget {
    pub bucket: String,
    pub prefix: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SigningKey {
    /// `signingKeyId`: the public key is registered already; only the key group is created.
    Imported(String),
    /// `storagePublicKey` without an id: the stack registers the key.
    Created(String),
}

/// Everything the builders read.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub name: String,
    pub stack_name: String,
    pub account: String,
    pub region: String,
    pub azs: Azs,
    pub zone: Option<Zone>,
    pub database: Database,
    pub cache_node_type: String,
    pub cache_security_group: Option<String>,
    pub image: String,
    pub cpu: u32,
    pub memory: u32,
    pub desired_count: u32,
    pub api_port: u16,
    pub environment: Vec<(String, String)>,
    pub extra_containers: Vec<ExtraContainer>,
    /// Value of the ECS cluster's `containerInsights` setting, when the config sets one.
    pub container_insights: Option<String>,
    pub autoscaling: Option<AutoScaling>,
    pub internet_facing: bool,
    pub lb_security_group: Option<String>,
    pub lb_logging: Option<LogTarget>,
    pub lb_algorithm: Option<String>,
    pub api_domain: String,
    pub api_cert: String,
    pub api_ip_set: Option<String>,
    pub app_domain: String,
    pub app_cert: String,
    pub app_api_proxy: bool,
    pub app_ip_set: Option<String>,
    pub app_logging: Option<LogTarget>,
    pub storage_bucket: String,
    pub storage_domain: String,
    pub storage_cert: String,
    pub signing_key: SigningKey,
    pub storage_ip_set: Option<String>,
    pub storage_logging: Option<LogTarget>,
    /// GuardDuty Malware Protection for S3 on the storage bucket; `Some(true)` for on-demand only.
    pub guardduty: Option<bool>,
}

fn invalid(key: &str, message: impl Into<String>, hint: impl Into<String>) -> SynthError {
    SynthError::Invalid {
        key: key.into(),
        message: message.into(),
        hint: hint.into(),
    }
}

fn unsupported(key: &str, reason: &str, hint: &str) -> SynthError {
    SynthError::Unsupported {
        key: key.into(),
        reason: reason.into(),
        hint: hint.into(),
    }
}

/// Applies one of the answers validators to a key.
fn check(key: &str, r: v::Check) -> Result<(), SynthError> {
    r.map_err(|(problem, fix)| invalid(key, problem, fix))
}

/// An optional string key, with "" meaning unset as the CDK's truthiness checks treat it.
fn opt(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

fn required<'a>(key: &str, s: &'a str) -> Result<&'a str, SynthError> {
    if s.is_empty() || s == "TODO" || s.starts_with("<dry run") {
        return Err(invalid(
            key,
            format!("'{s}' is a placeholder, not a value"),
            format!("set {key} (medplum-init init fills it in)"),
        ));
    }
    Ok(s)
}

impl Settings {
    pub fn from_config(c: &InfraConfig, lookups: &Lookups) -> Result<Self, SynthError> {
        refuse_unsupported(c)?;
        let region = required("region", &c.region)?.to_string();
        check("region", v::region(&region))?;
        check("name", v::env_name(required("name", &c.name)?))?;
        check("stackName", v::stack_name(required("stackName", &c.stack_name)?))?;
        check(
            "accountNumber",
            v::account_number(required("accountNumber", &c.account_number)?),
        )?;
        for (key, d) in [
            ("domainName", &c.domain_name),
            ("apiDomainName", &c.api_domain_name),
            ("appDomainName", &c.app_domain_name),
            ("storageDomainName", &c.storage_domain_name),
        ] {
            check(key, v::domain(required(key, d)?))?;
        }
        check(
            "apiSslCertArn",
            v::acm_arn(
                required("apiSslCertArn", &c.api_ssl_cert_arn)?,
                &region,
                "the API load balancer is in the stack's region",
            ),
        )?;
        for (key, arn) in [
            ("appSslCertArn", &c.app_ssl_cert_arn),
            ("storageSslCertArn", &c.storage_ssl_cert_arn),
        ] {
            check(
                key,
                v::acm_arn(
                    required(key, arn)?,
                    "us-east-1",
                    "CloudFront only uses certificates from us-east-1",
                ),
            )?;
        }
        check(
            "storageBucketName",
            v::bucket_name(required("storageBucketName", &c.storage_bucket_name)?),
        )?;
        // The app bucket is named after the app domain.
        check("appDomainName", v::bucket_name(&c.app_domain_name))?;

        if c.max_azs < 2 {
            // The CDK synthesizes it, but the load balancer and the Aurora subnet group both
            // refuse subnets in a single zone at deploy time.
            return Err(invalid(
                "maxAzs",
                format!("{} availability zone(s)", c.max_azs),
                "use 2 or more: the load balancer and the database need subnets in two zones",
            ));
        }
        let azs = match &lookups.availability_zones {
            Some(names) if !names.is_empty() => Azs::Named(
                names
                    .iter()
                    .take(c.max_azs as usize)
                    .cloned()
                    .collect(),
            ),
            _ if c.max_azs <= MAX_AZS_WITHOUT_LOOKUP => Azs::Selected(c.max_azs),
            _ => {
                return Err(SynthError::MissingAvailabilityZones {
                    region: region.clone(),
                    max_azs: c.max_azs,
                    hint: format!(
                        "run synth online so medplum-init records them in cdk.context.json, add \
                         \"availability-zones:account={}:region={region}\" to cdk.context.json, \
                         or set maxAzs to {MAX_AZS_WITHOUT_LOOKUP} or less",
                        c.account_number
                    ),
                });
            }
        };

        let zone = if c.skip_dns == Some(true) {
            None
        } else {
            Some(pick_zone(c, lookups)?)
        };

        let database = database(c)?;
        let cache_node_type = match opt(&c.cache_node_type) {
            Some(t) => {
                check("cacheNodeType", v::cache_node_type(t))?;
                t.to_string()
            }
            None => DEFAULT_CACHE_NODE_TYPE.to_string(),
        };
        let cache_security_group = opt(&c.cache_security_group_id).map(str::to_string);
        if let Some(sg) = &cache_security_group {
            check("cacheSecurityGroupId", v::aws_id(sg, "sg"))?;
        }
        check("serverImage", v::image(required("serverImage", &c.server_image)?))?;
        fargate_size(c.server_cpu, c.server_memory)?;
        if c.api_port == 0 {
            return Err(invalid("apiPort", "port 0", "Medplum's server listens on 8103"));
        }

        let lb_security_group = opt(&c.load_balancer_security_group_id).map(str::to_string);
        if let Some(sg) = &lb_security_group {
            check("loadBalancerSecurityGroupId", v::aws_id(sg, "sg"))?;
        }
        let lb_logging = lb_logging(c)?;
        let lb_algorithm = opt(&c.load_balancer_algorithm).map(str::to_string);
        if let Some(a) = &lb_algorithm
            && !["round_robin", "least_outstanding_requests", "weighted_random"]
                .contains(&a.as_str())
        {
            return Err(invalid(
                "loadBalancerAlgorithm",
                format!("'{a}' is not a load balancing algorithm"),
                "use round_robin, least_outstanding_requests or weighted_random",
            ));
        }

        let signing_key = match (opt(&c.signing_key_id), opt(&c.storage_public_key)) {
            (Some(id), _) => {
                check("signingKeyId", v::cloudfront_key_id(id))?;
                SigningKey::Imported(id.to_string())
            }
            (None, Some(pem)) => {
                if !pem.trim_start().starts_with("-----BEGIN PUBLIC KEY-----") {
                    return Err(invalid(
                        "storagePublicKey",
                        "not a PEM public key",
                        "paste the PEM that starts with -----BEGIN PUBLIC KEY-----",
                    ));
                }
                SigningKey::Created(pem.to_string())
            }
            (None, None) => {
                return Err(invalid(
                    "signingKeyId",
                    "neither signingKeyId nor storagePublicKey is set",
                    "run medplum-init init (it registers the key), or set storagePublicKey to the \
                     key's SPKI PEM",
                ));
            }
        };

        let ip_set = |key: &str, s: &Option<String>, kind: &str| -> Result<Option<String>, SynthError> {
            match opt(s) {
                Some(arn) => {
                    check(
                        key,
                        v::service_arn(arn, "wafv2", kind, "arn:aws:wafv2:<region>:<account>:<scope>/ipset/<name>/<id>"),
                    )?;
                    Ok(Some(arn.to_string()))
                }
                None => Ok(None),
            }
        };

        Ok(Settings {
            name: c.name.clone(),
            stack_name: c.stack_name.clone(),
            account: c.account_number.clone(),
            region,
            azs,
            zone,
            database,
            cache_node_type,
            cache_security_group,
            image: c.server_image.clone(),
            cpu: c.server_cpu,
            memory: c.server_memory,
            desired_count: c.desired_server_count,
            api_port: c.api_port,
            environment: string_map("environment", c.environment.as_ref())?,
            extra_containers: extra_containers(c)?,
            container_insights: container_insights(c)?,
            autoscaling: autoscaling(c)?,
            internet_facing: c.api_internet_facing != Some(false),
            lb_security_group,
            lb_logging,
            lb_algorithm,
            api_domain: c.api_domain_name.clone(),
            api_cert: c.api_ssl_cert_arn.clone(),
            api_ip_set: ip_set("apiWafIpSetArn", &c.api_waf_ip_set_arn, "regional/ipset/")?,
            app_domain: c.app_domain_name.clone(),
            app_cert: c.app_ssl_cert_arn.clone(),
            app_api_proxy: c.app_api_proxy == Some(true),
            app_ip_set: ip_set("appWafIpSetArn", &c.app_waf_ip_set_arn, "global/ipset/")?,
            app_logging: log_target("appLoggingBucket", &c.app_logging_bucket, &c.app_logging_prefix)?,
            storage_bucket: c.storage_bucket_name.clone(),
            storage_domain: c.storage_domain_name.clone(),
            storage_cert: c.storage_ssl_cert_arn.clone(),
            signing_key,
            storage_ip_set: ip_set("storageWafIpSetArn", &c.storage_waf_ip_set_arn, "global/ipset/")?,
            storage_logging: log_target(
                "storageLoggingBucket",
                &c.storage_logging_bucket,
                &c.storage_logging_prefix,
            )?,
            guardduty: guardduty(c)?,
        })
    }

    /// True when the CloudFront side lives in a second stack in us-east-1.
    pub fn two_stacks(&self) -> bool {
        self.region != "us-east-1"
    }
}

/// Keys that would change the stack in ways medplum-init cannot reproduce. Each names the
/// alternative.
fn refuse_unsupported(c: &InfraConfig) -> Result<(), SynthError> {
    if opt(&c.vpc_id).is_some() {
        return Err(unsupported(
            "vpcId",
            "deploying into an existing VPC needs the CDK's EC2 lookups of its subnets and route \
             tables",
            "remove vpcId (or set it to \"\") to let the stack create its VPC, or deploy this \
             environment with the official CDK",
        ));
    }
    if c.clamscan_enabled == Some(true) {
        return Err(unsupported(
            "clamscanEnabled",
            "cdk-serverless-clamscan needs Docker-built Lambda images and CDK asset buckets",
            "set clamscanEnabled to false and guardDutyMalwareProtectionEnabled to true: GuardDuty \
             Malware Protection for S3 scans the storage bucket with no assets to build",
        ));
    }
    if c.rds_proxy_enabled == Some(true) {
        return Err(unsupported(
            "rdsProxyEnabled",
            "the RDS proxy is not built by medplum-init yet",
            "set rdsProxyEnabled to false, or deploy this environment with the official CDK",
        ));
    }
    if c.rds_persistent_parameter_groups == Some(true) || c.rds_ids_major_version_suffix == Some(true)
    {
        let key = if c.rds_persistent_parameter_groups == Some(true) {
            "rdsPersistentParameterGroups"
        } else {
            "rdsIdsMajorVersionSuffix"
        };
        return Err(unsupported(
            key,
            "the major-version upgrade procedure's resources are not built by medplum-init yet",
            "run the Aurora major version upgrade with the official CDK, then remove the key",
        ));
    }
    if c.rds_force_retain.is_some() {
        return Err(unsupported(
            "rdsForceRetain",
            "its effect on removal policies is not reproduced by medplum-init",
            "remove rdsForceRetain; the database cluster is always retained on stack deletion",
        ));
    }
    if c.cloud_trail_alarms.is_some() {
        return Err(unsupported(
            "cloudTrailAlarms",
            "the CloudTrail trail, metric filters and alarms are not built by medplum-init",
            "remove cloudTrailAlarms and manage CloudTrail alarms outside this stack, or deploy \
             with the official CDK",
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
            "$schema" => {}
            "fireLens" | "workerServices" | "workers" | "cacheRedis" | "rateLimitRedis"
            | "pubSubRedis" | "backgroundJobsRedis" | "rdsNewInstanceVersion"
            | "rdsReplaceClusterStep" | "additionalServices" => {
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

/// Picks the hosted zone: `hostedZoneName` when set, otherwise the longest zone in the lookups
/// that holds `domainName` (medplum-init's rule, see `steps::dns::pick_zone`; the CDK would guess
/// the last two labels, which is wrong for `co.uk` and delegated subzones).
fn pick_zone(c: &InfraConfig, lookups: &Lookups) -> Result<Zone, SynthError> {
    let zones: Vec<crate::steps::dns::Zone> = lookups
        .hosted_zones
        .iter()
        .map(|(name, id)| crate::steps::dns::Zone {
            id: id.clone(),
            name: name.clone(),
        })
        .collect();
    let wanted = opt(&c.hosted_zone_name);
    let Some(z) = crate::steps::dns::pick_zone(&zones, &c.domain_name, wanted) else {
        let what = wanted.unwrap_or(&c.domain_name);
        return Err(SynthError::MissingHostedZone {
            domain: what.to_string(),
            hint: format!(
                "run synth online (medplum-init looks the zone up in Route53 and records it in \
                 cdk.context.json), add \"hosted-zone:account={}:domainName=<zone>:region={}\" to \
                 cdk.context.json, or set skipDns to true to create no DNS records",
                c.account_number, c.region
            ),
        });
    };
    for (key, d) in [
        ("apiDomainName", &c.api_domain_name),
        ("appDomainName", &c.app_domain_name),
        ("storageDomainName", &c.storage_domain_name),
    ] {
        if !v::is_within(d, &z.name) {
            return Err(invalid(
                key,
                format!("{d} is not in the hosted zone {}", z.name),
                "use a name under the zone, set hostedZoneName to a zone that holds all three \
                 domains, or set skipDns to true",
            ));
        }
    }
    Ok(Zone {
        id: z.id.clone(),
        name: z.name.clone(),
    })
}

fn database(c: &InfraConfig) -> Result<Database, SynthError> {
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
    }))
}

/// Fargate accepts only these CPU/memory pairs; checking here fails fast instead of minutes into a
/// deploy.
fn fargate_size(cpu: u32, memory: u32) -> Result<(), SynthError> {
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
        (lo..=hi).contains(&memory) && (memory - lo) % step == 0
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

fn string_map(key: &str, m: Option<&Map<String, Value>>) -> Result<Vec<(String, String)>, SynthError> {
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

fn extra_containers(c: &InfraConfig) -> Result<Vec<ExtraContainer>, SynthError> {
    let mut out = Vec::new();
    for (i, item) in c.additional_containers.iter().flatten().enumerate() {
        let key = format!("additionalContainers[{i}]");
        let Some(obj) = item.as_object() else {
            return Err(invalid(&key, "not an object", "write {\"name\": …, \"image\": …}"));
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
        let name = s("name").ok_or_else(|| invalid(&format!("{key}.name"), "missing", "name the container"))?;
        let image = s("image")
            .ok_or_else(|| invalid(&format!("{key}.image"), "missing", "give the container's image"))?;
        check(&format!("{key}.image"), v::image(image))?;
        let command = match obj.get("command") {
            None | Some(Value::Null) => None,
            Some(Value::Array(a)) => Some(
                a.iter()
                    .map(|x| x.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| {
                        invalid(&format!("{key}.command"), "not a list of strings", "write [\"arg\", …]")
                    })?,
            ),
            Some(_) => {
                return Err(invalid(&format!("{key}.command"), "not a list", "write [\"arg\", …]"));
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
            essential: obj.get("essential").and_then(Value::as_bool).unwrap_or(false),
        });
    }
    Ok(out)
}

fn container_insights(c: &InfraConfig) -> Result<Option<String>, SynthError> {
    let v2 = c.extra.get("containerInsightsV2").or(c.container_insights_v2.as_ref());
    match (c.container_insights, v2) {
        (Some(_), Some(_)) => Err(invalid(
            "containerInsightsV2",
            "both containerInsights and containerInsightsV2 are set",
            "keep one: containerInsightsV2 (\"enhanced\", \"enabled\" or \"disabled\") supersedes it",
        )),
        (Some(b), None) => Ok(Some(if b { "enabled" } else { "disabled" }.into())),
        (None, Some(Value::String(s))) if ["enhanced", "enabled", "disabled"].contains(&s.as_str()) => {
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

fn autoscaling(c: &InfraConfig) -> Result<Option<AutoScaling>, SynthError> {
    let Some(v) = &c.fargate_auto_scaling else {
        return Ok(None);
    };
    let obj = v.as_object().ok_or_else(|| {
        invalid("fargateAutoScaling", "not an object", "write {\"minCapacity\": 1, …}")
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

fn log_target(
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
fn lb_logging(c: &InfraConfig) -> Result<Option<LogTarget>, SynthError> {
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

fn guardduty(c: &InfraConfig) -> Result<Option<bool>, SynthError> {
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
