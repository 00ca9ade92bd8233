//! What `status` reads, all at once: each area's AWS calls run concurrently, and a failed call
//! becomes that area's "could not be read", never the whole report's failure. The calls are the
//! `status` policy's (docs/permissions.md); the stacks' server image is read as `list` reads it.

use std::collections::BTreeMap;

use crate::aws::{AwsClients, AwsError};
use crate::commands::app::AppRecord;
use crate::config::US_EAST_1;
use crate::config::infra::InfraConfig;
use crate::config::server;
use crate::crypto::Secret;
use crate::deploy::environments;

/// One certificate the config names.
#[derive(Debug, Clone)]
pub struct CertFacts {
    /// api, app, storage.
    pub label: &'static str,
    /// The config key naming it (`apiSslCertArn`).
    pub key: &'static str,
    pub arn: String,
    /// Where it must be: the stack's region for the load balancer, us-east-1 for CloudFront.
    pub want_region: String,
    /// The name it must cover.
    pub name: String,
    /// `Ok(None)`: ACM has no such certificate.
    pub read: Result<Option<CertDetail>, String>,
    pub stack_deployed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertDetail {
    pub status: String,
    pub domain: Option<String>,
    pub sans: Vec<String>,
    /// Seconds since the epoch.
    pub not_after: Option<i64>,
    pub renewal: Option<String>,
    pub in_use: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The address or its domain, whichever SES knows.
    pub name: String,
    pub verified: bool,
    pub dkim: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailFacts {
    pub address: String,
    pub identity: Option<Identity>,
    pub production: Result<bool, String>,
}

/// A parameter under `/medplum/<env>/`, decrypted (secrets stay in a [`Secret`]).
#[derive(Debug, Clone)]
pub struct Param {
    /// String, SecureString, StringList.
    pub kind: String,
    pub value: Secret,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackFacts {
    pub name: String,
    pub region: String,
    /// `Ok(None)`: no such stack.
    pub status: Result<Option<String>, String>,
}

impl StackFacts {
    pub fn deployed(&self) -> bool {
        matches!(&self.status, Ok(Some(s)) if !s.starts_with("DELETE") && s != "REVIEW_IN_PROGRESS")
    }
}

/// A stack resource drift detection found changed outside CloudFormation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drifted {
    pub logical_id: String,
    pub resource_type: String,
    /// MODIFIED or DELETED.
    pub status: String,
    /// The property paths that differ (MODIFIED).
    pub properties: Vec<String>,
}

/// What DetectStackDrift found for the primary stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriftFacts {
    InSync,
    Drifted(Vec<Drifted>),
    /// The detection had not finished within [`DRIFT_WAIT`].
    StillRunning,
}

/// How long status waits for drift detection (it takes seconds to a minute on AWS, by stack
/// size); past this the line says it is still running rather than hold the report up.
pub const DRIFT_WAIT: std::time::Duration = std::time::Duration::from_secs(20);

/// Everything the verdicts look at.
#[derive(Debug, Clone)]
pub struct Facts {
    pub env: String,
    pub now_secs: i64,
    pub certificates: Vec<CertFacts>,
    /// `Ok(None)`: no supportEmail parameter to check.
    pub email: Result<Option<EmailFacts>, String>,
    /// By key (the name without the path).
    pub parameters: Result<BTreeMap<String, Param>, String>,
    /// What the journal says medplum-init wrote: full name to version.
    pub written: BTreeMap<String, i64>,
    /// The public key CloudFront holds under signingKeyId (`Ok(None)`: none).
    pub public_key: Result<Option<String>, String>,
    /// The items of the stack's key group, when the stack has one.
    pub key_group: Option<Result<Vec<String>, String>>,
    pub stacks: Vec<StackFacts>,
    pub server_image: Option<Result<Option<String>, String>>,
    pub app: Option<AppRecord>,
    /// A signing key rotation in progress, from the journal.
    pub rotation: Option<crate::rotate::Rotation>,
    /// Drift of the primary stack, when it is deployed.
    pub drift: Option<Result<DriftFacts, String>>,
}

fn said(e: AwsError) -> String {
    let mut s = e.to_string();
    if let Some(h) = crate::error::Diagnostic::hint(&e) {
        s.push_str(&format!(" ({h})"));
    }
    s
}

/// Reads every fact; `written`, `app` and `rotation` come from the journal.
pub async fn gather(
    aws: &AwsClients,
    c: &InfraConfig,
    env: &str,
    written: BTreeMap<String, i64>,
    app: Option<AppRecord>,
    rotation: Option<crate::rotate::Rotation>,
    now_secs: i64,
) -> Facts {
    let companion = (c.region != US_EAST_1).then(|| format!("{}-us-east-1", c.stack_name));
    let stack_list: Vec<(String, String)> =
        std::iter::once((c.stack_name.clone(), c.region.clone()))
            .chain(companion.map(|n| (n, US_EAST_1.to_string())))
            .collect();
    let (stacks, parameters, public_key) = tokio::join!(
        futures_util::future::join_all(stack_list.iter().map(|(n, r)| stack(
            aws,
            n.clone(),
            r.clone()
        ))),
        parameters(aws, env),
        public_key(aws, c.signing_key_id.as_deref().unwrap_or_default()),
    );
    let deployed = stacks.first().is_some_and(StackFacts::deployed);
    let support = parameters
        .as_ref()
        .ok()
        .and_then(|p| p.get("supportEmail"))
        .map(|p| p.value.expose().to_string());
    let cert_list = [
        (
            "api",
            "apiSslCertArn",
            &c.api_ssl_cert_arn,
            c.region.as_str(),
            &c.api_domain_name,
        ),
        (
            "app",
            "appSslCertArn",
            &c.app_ssl_cert_arn,
            US_EAST_1,
            &c.app_domain_name,
        ),
        (
            "storage",
            "storageSslCertArn",
            &c.storage_ssl_cert_arn,
            US_EAST_1,
            &c.storage_domain_name,
        ),
    ];
    let (certificates, email, key_group, server_image, drift) = tokio::join!(
        futures_util::future::join_all(cert_list.iter().map(|(label, key, arn, region, name)| {
            certificate(aws, label, key, arn, region, name, deployed)
        })),
        email(aws, support),
        async {
            if !deployed {
                return None;
            }
            match key_group(aws, &c.region, &c.stack_name).await {
                Ok(Some(items)) => Some(Ok(items)),
                Ok(None) => None,
                Err(e) => Some(Err(e)),
            }
        },
        async {
            if deployed {
                Some(
                    environments::server_image(aws, &c.region, &c.stack_name)
                        .await
                        .map_err(said),
                )
            } else {
                None
            }
        },
        async {
            if deployed {
                Some(drift(aws, &c.region, &c.stack_name).await.map_err(said))
            } else {
                None
            }
        },
    );
    Facts {
        env: env.to_string(),
        now_secs,
        certificates,
        email,
        parameters,
        written,
        public_key,
        key_group,
        stacks,
        server_image,
        app,
        rotation,
        drift,
    }
}

/// DetectStackDrift, then its status until complete (or [`DRIFT_WAIT`]), then the drifted
/// resources. Detection changes nothing in the stack.
async fn drift(aws: &AwsClients, region: &str, stack: &str) -> Result<DriftFacts, AwsError> {
    use aws_sdk_cloudformation::types::{StackDriftDetectionStatus, StackResourceDriftStatus};
    let cfn = aws.cloudformation(region);
    let id = cfn
        .detect_stack_drift()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("cloudformation", "DetectStackDrift", &e))?
        .stack_drift_detection_id()
        .unwrap_or_default()
        .to_string();
    let started = std::time::Instant::now();
    let mut delay = std::time::Duration::from_millis(250);
    loop {
        let s = cfn
            .describe_stack_drift_detection_status()
            .stack_drift_detection_id(&id)
            .send()
            .await
            .map_err(|e| {
                AwsError::from_sdk("cloudformation", "DescribeStackDriftDetectionStatus", &e)
            })?;
        match s.detection_status() {
            Some(
                StackDriftDetectionStatus::DetectionComplete
                | StackDriftDetectionStatus::DetectionFailed,
            ) => {
                if s.drifted_stack_resource_count().unwrap_or(0) == 0 {
                    return Ok(DriftFacts::InSync);
                }
                break;
            }
            _ if started.elapsed() >= DRIFT_WAIT => return Ok(DriftFacts::StillRunning),
            _ => {}
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(std::time::Duration::from_secs(2));
    }
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = cfn
            .describe_stack_resource_drifts()
            .stack_name(stack)
            .stack_resource_drift_status_filters(StackResourceDriftStatus::Modified)
            .stack_resource_drift_status_filters(StackResourceDriftStatus::Deleted)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("cloudformation", "DescribeStackResourceDrifts", &e))?;
        for d in page.stack_resource_drifts() {
            out.push(Drifted {
                logical_id: d.logical_resource_id().unwrap_or_default().to_string(),
                resource_type: d.resource_type().unwrap_or_default().to_string(),
                status: d
                    .stack_resource_drift_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                properties: d
                    .property_differences()
                    .iter()
                    .filter_map(|p| p.property_path().map(str::to_string))
                    .collect(),
            });
        }
        match page.next_token() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    Ok(DriftFacts::Drifted(out))
}

async fn stack(aws: &AwsClients, name: String, region: String) -> StackFacts {
    let cfn = aws.cloudformation(&region);
    let status = match cfn.describe_stacks().stack_name(&name).send().await {
        Ok(out) => Ok(out
            .stacks()
            .first()
            .and_then(|s| s.stack_status())
            .map(|s| s.as_str().to_string())),
        Err(e) => {
            let e = AwsError::from_sdk("cloudformation", "DescribeStacks", &e);
            // CloudFormation answers a missing stack with a ValidationError "does not exist".
            if e.to_string().contains("does not exist") || e.is_not_found() {
                Ok(None)
            } else {
                Err(said(e))
            }
        }
    };
    StackFacts {
        name,
        region,
        status,
    }
}

async fn parameters(aws: &AwsClients, env: &str) -> Result<BTreeMap<String, Param>, String> {
    let ssm = aws.ssm();
    let path = server::parameter_path(env);
    let mut out = BTreeMap::new();
    let mut token: Option<String> = None;
    loop {
        let page = ssm
            .get_parameters_by_path()
            .path(&path)
            .recursive(true)
            .with_decryption(true)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| said(AwsError::from_sdk("ssm", "GetParametersByPath", &e)))?;
        for p in page.parameters() {
            let Some(key) = p.name().and_then(|n| n.strip_prefix(&path)) else {
                continue;
            };
            out.insert(
                key.to_string(),
                Param {
                    kind: p
                        .r#type()
                        .map(|t| t.as_str().to_string())
                        .unwrap_or_default(),
                    value: Secret::new(p.value().unwrap_or_default().to_string()),
                    version: p.version(),
                },
            );
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => return Ok(out),
        }
    }
}

async fn public_key(aws: &AwsClients, id: &str) -> Result<Option<String>, String> {
    if id.is_empty() {
        return Ok(None);
    }
    match aws.cloudfront().get_public_key().id(id).send().await {
        Ok(out) => Ok(out
            .public_key()
            .and_then(|k| k.public_key_config())
            .map(|c| c.encoded_key().to_string())),
        Err(e) => {
            let e = AwsError::from_sdk("cloudfront", "GetPublicKey", &e);
            if e.is_not_found() {
                Ok(None)
            } else {
                Err(said(e))
            }
        }
    }
}

/// The items of the stack's CloudFront key group (logical ID `StorageStorageKeyGroup…`, as
/// Medplum's CDK names it); `Ok(None)` when the stack has none.
async fn key_group(
    aws: &AwsClients,
    region: &str,
    stack: &str,
) -> Result<Option<Vec<String>>, String> {
    let id = environments::find_resource(aws, region, stack, |ty, logical| {
        ty == "AWS::CloudFront::KeyGroup" && logical.starts_with("StorageStorageKeyGroup")
    })
    .await
    .map_err(said)?;
    let Some(id) = id else {
        return Ok(None);
    };
    let out = aws
        .cloudfront()
        .get_key_group()
        .id(&id)
        .send()
        .await
        .map_err(|e| said(AwsError::from_sdk("cloudfront", "GetKeyGroup", &e)))?;
    Ok(Some(
        out.key_group()
            .and_then(|g| g.key_group_config())
            .map(|c| c.items().to_vec())
            .unwrap_or_default(),
    ))
}

async fn certificate(
    aws: &AwsClients,
    label: &'static str,
    key: &'static str,
    arn: &str,
    region: &str,
    name: &str,
    stack_deployed: bool,
) -> CertFacts {
    let read = if arn.is_empty() {
        Ok(None)
    } else {
        let in_region = arn.split(':').nth(3).unwrap_or(region);
        match aws
            .acm(in_region)
            .describe_certificate()
            .certificate_arn(arn)
            .send()
            .await
        {
            Ok(out) => Ok(out.certificate().map(|d| CertDetail {
                status: d
                    .status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                domain: d.domain_name().map(str::to_string),
                sans: d.subject_alternative_names().to_vec(),
                not_after: d.not_after().map(|t| t.secs()),
                renewal: d.renewal_eligibility().map(|r| r.as_str().to_string()),
                in_use: d.in_use_by().len(),
            })),
            Err(e) => {
                let e = AwsError::from_sdk("acm", "DescribeCertificate", &e);
                if e.is_not_found() {
                    Ok(None)
                } else {
                    Err(said(e))
                }
            }
        }
    };
    CertFacts {
        label,
        key,
        arn: arn.to_string(),
        want_region: region.to_string(),
        name: name.to_string(),
        read,
        stack_deployed,
    }
}

/// The address's identity, else its domain's; and whether the account left the sandbox.
async fn email(aws: &AwsClients, address: Option<String>) -> Result<Option<EmailFacts>, String> {
    let Some(address) = address else {
        return Ok(None);
    };
    let ses = aws.sesv2();
    let domain = address.rsplit_once('@').map(|(_, d)| d.to_string());
    let mut identity = None;
    for name in std::iter::once(address.clone()).chain(domain) {
        match ses.get_email_identity().email_identity(&name).send().await {
            Ok(out) => {
                let found = Identity {
                    name: name.clone(),
                    verified: out.verified_for_sending_status(),
                    dkim: out
                        .dkim_attributes()
                        .and_then(|d| d.status())
                        .map(|s| s.as_str().to_string()),
                };
                let verified = found.verified;
                identity = Some(found);
                if verified {
                    break;
                }
            }
            Err(e) => {
                let e = AwsError::from_sdk("ses", "GetEmailIdentity", &e);
                if !e.is_not_found() {
                    return Err(said(e));
                }
            }
        }
    }
    let production = match ses.get_account().send().await {
        Ok(out) => Ok(out.production_access_enabled()),
        Err(e) => Err(said(AwsError::from_sdk("ses", "GetAccount", &e))),
    };
    Ok(Some(EmailFacts {
        address,
        identity,
        production,
    }))
}
