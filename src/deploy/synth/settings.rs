//! The config, checked and with every default applied, in the shape the builders need. Every key
//! of `MedplumInfraConfig` is either honoured or refused (see [`super::keys`]) with an error that
//! names it: a key that would change the stack is never dropped silently.

use serde_json::{Map, Value};

use super::keys::{
    autoscaling, container_insights, database, extra_containers, fargate_size, guardduty,
    lb_logging, log_target, refuse_unsupported, string_map,
};
use crate::config::US_EAST_1;
use crate::config::cloudtrail::CloudTrailAlarms;
use crate::config::infra::{DEFAULT_CACHE_NODE_TYPE, InfraConfig};
use crate::config::validators as v;
use crate::config::zones;
use crate::deploy::vpc::VpcLookup;
use crate::deploy::{Lookups, SynthError};

/// Aurora PostgreSQL version when `rdsInstanceVersion` is absent: upstream Medplum's current
/// default (12.9 in @medplum/cdk 4.0.2 runs on paid RDS Extended Support).
pub const DEFAULT_RDS_VERSION: &str = "16.9";
/// RDS instance class (without `db.`) when `rdsInstanceType` is absent: the CDK's default.
pub const DEFAULT_RDS_INSTANCE_TYPE: &str = "t3.medium";
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
    /// `rdsPersistentParameterGroups`: cluster, writer and reader parameter groups named after
    /// the major version and retained, so a major upgrade can move to the next version's groups.
    pub persistent_groups: bool,
    /// `rdsIdsMajorVersionSuffix`: the cluster's construct ID ends in `PG<major>`, so a new major
    /// version is a new cluster beside the old one (retained, with deletion protection).
    pub ids_suffix: bool,
    /// `rdsProxyEnabled`: an RDS Proxy in front of the cluster; its endpoint goes to
    /// `/medplum/<name>/databaseProxyEndpoint`, where the server looks for it.
    pub proxy: bool,
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
    /// A key a rotation retires: trusted beside `signing_key` until the rotation finishes.
    pub retiring_key: Option<String>,
    pub storage_ip_set: Option<String>,
    pub storage_logging: Option<LogTarget>,
    /// GuardDuty Malware Protection for S3 on the storage bucket; `Some(true)` for on-demand only.
    pub guardduty: Option<bool>,
    /// The existing VPC (`vpcId`), looked up and checked; `None` builds one.
    pub vpc: Option<VpcLookup>,
    /// `cloudTrailAlarms`, built in the primary stack.
    pub cloud_trail: Option<CloudTrailAlarms>,
}

pub(super) fn invalid(
    key: &str,
    message: impl Into<String>,
    hint: impl Into<String>,
) -> SynthError {
    SynthError::Invalid {
        key: key.into(),
        message: message.into(),
        hint: hint.into(),
    }
}

pub(super) fn unsupported(key: &str, reason: &str, hint: &str) -> SynthError {
    SynthError::Unsupported {
        key: key.into(),
        reason: reason.into(),
        hint: hint.into(),
    }
}

/// Applies one of the answers validators to a key.
pub(super) fn check(key: &str, r: v::Check) -> Result<(), SynthError> {
    r.map_err(|(problem, fix)| invalid(key, problem, fix))
}

/// An optional string key, with "" meaning unset as the CDK's truthiness checks treat it.
pub(super) fn opt(s: &Option<String>) -> Option<&str> {
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
        check(
            "stackName",
            v::stack_name(required("stackName", &c.stack_name)?),
        )?;
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
                    US_EAST_1,
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
        let vpc = match opt(&c.vpc_id) {
            Some(id) => {
                check("vpcId", v::aws_id(id, "vpc"))?;
                Some(super::network::existing(
                    c,
                    id,
                    lookups,
                    c.api_internet_facing != Some(false),
                )?)
            }
            None => None,
        };
        let azs = match &lookups.availability_zones {
            // The existing VPC's subnets fix the zones.
            _ if vpc.is_some() => Azs::Selected(c.max_azs),
            Some(names) if !names.is_empty() => {
                Azs::Named(names.iter().take(c.max_azs as usize).cloned().collect())
            }
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
        check(
            "serverImage",
            v::image(required("serverImage", &c.server_image)?),
        )?;
        fargate_size(c.server_cpu, c.server_memory)?;
        if c.api_port == 0 {
            return Err(invalid(
                "apiPort",
                "port 0",
                "Medplum's server listens on 8103",
            ));
        }

        let lb_security_group = opt(&c.load_balancer_security_group_id).map(str::to_string);
        if let Some(sg) = &lb_security_group {
            check("loadBalancerSecurityGroupId", v::aws_id(sg, "sg"))?;
        }
        let lb_logging = lb_logging(c)?;
        let lb_algorithm = opt(&c.load_balancer_algorithm).map(str::to_string);
        if let Some(a) = &lb_algorithm
            && ![
                "round_robin",
                "least_outstanding_requests",
                "weighted_random",
            ]
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

        let retiring_key = match opt(&c.retiring_signing_key_id) {
            Some(id) => {
                check(
                    crate::config::infra::RETIRING_SIGNING_KEY,
                    v::cloudfront_key_id(id),
                )?;
                if matches!(&signing_key, SigningKey::Imported(cur) if cur == id) {
                    return Err(invalid(
                        crate::config::infra::RETIRING_SIGNING_KEY,
                        "names the same key as signingKeyId",
                        "remove it: a rotation retires the key it replaced, never the current one",
                    ));
                }
                Some(id.to_string())
            }
            None => None,
        };

        let ip_set =
            |key: &str, s: &Option<String>, kind: &str| -> Result<Option<String>, SynthError> {
                match opt(s) {
                    Some(arn) => {
                        check(
                            key,
                            v::service_arn(
                                arn,
                                "wafv2",
                                kind,
                                "arn:aws:wafv2:<region>:<account>:<scope>/ipset/<name>/<id>",
                            ),
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
            app_logging: log_target(
                "appLoggingBucket",
                &c.app_logging_bucket,
                &c.app_logging_prefix,
            )?,
            storage_bucket: c.storage_bucket_name.clone(),
            storage_domain: c.storage_domain_name.clone(),
            storage_cert: c.storage_ssl_cert_arn.clone(),
            signing_key,
            retiring_key,
            storage_ip_set: ip_set(
                "storageWafIpSetArn",
                &c.storage_waf_ip_set_arn,
                "global/ipset/",
            )?,
            storage_logging: log_target(
                "storageLoggingBucket",
                &c.storage_logging_bucket,
                &c.storage_logging_prefix,
            )?,
            guardduty: guardduty(c)?,
            vpc,
            cloud_trail: match &c.cloud_trail_alarms {
                Some(v) => crate::config::cloudtrail::parse(v)
                    .map_err(|(key, problem, fix)| invalid(&key, problem, fix))?,
                None => None,
            },
        })
    }

    /// True when the CloudFront side lives in a second stack in us-east-1.
    pub fn two_stacks(&self) -> bool {
        self.region != US_EAST_1
    }
}

/// Picks the hosted zone: `hostedZoneName` when set, otherwise the longest zone in the lookups
/// that holds `domainName` (medplum-init's rule, see [`zones::pick_zone`]; the CDK would guess
/// the last two labels, which is wrong for `co.uk` and delegated subzones).
fn pick_zone(c: &InfraConfig, lookups: &Lookups) -> Result<Zone, SynthError> {
    let listed: Vec<zones::Zone> = lookups
        .hosted_zones
        .iter()
        .map(|(name, id)| zones::Zone {
            id: id.clone(),
            name: name.clone(),
        })
        .collect();
    let wanted = opt(&c.hosted_zone_name);
    let Some(z) = zones::pick_zone(&listed, &c.domain_name, wanted) else {
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
