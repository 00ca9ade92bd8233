//! Lookups synthesis needs from AWS (hosted zone IDs, availability zones), kept in the CDK's own
//! `cdk.context.json` format next to the config, so a file written by the official CDK serves
//! medplum-init and the reverse. When the file has the entries, synthesis needs no AWS at all.
//!
//! Online, the hosted zone comes from Route53: `hostedZoneName` when the config sets it, else the
//! longest public zone holding `domainName` (medplum-init's rule, shared with the prerequisite
//! steps; the CDK's last-two-labels guess is wrong for `co.uk` and delegated subzones).
//! An existing VPC (`vpcId`) is looked up with the EC2 API ([`super::vpc`]) under the CDK's
//! `vpc-provider` key. Availability zones are not looked up; without them the template selects
//! zones with `Fn::GetAZs` (see `synth::settings`).
//!
//! External secrets in the config (`{"system":"aws_ssm_parameter_store",…}`) are resolved here
//! from Parameter Store, as the CDK does at every synth.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::vpc::{self, VpcError, VpcLookup};
use crate::aws::{AwsClients, AwsError};
use crate::config::infra::{ConfigDocument, ConfigFileError, InfraConfig};
use crate::config::zones::{Zone, pick_zone};
use crate::error::Diagnostic;
use crate::outcome::Outcome;

/// The context file's name, next to the config (where `cdk` writes it when run in that folder).
pub const CONTEXT_FILE: &str = "cdk.context.json";

/// What synthesis needs to know about the account beyond the config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lookups {
    /// Availability zone names of the stack's region, in the order the CDK uses them.
    pub availability_zones: Option<Vec<String>>,
    /// Public hosted zones: name (no trailing dot) to ID (no `/hostedzone/` prefix).
    pub hosted_zones: BTreeMap<String, String>,
    /// The config's `vpcId`, looked up.
    pub vpc: Option<VpcLookup>,
}

#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("could not read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a JSON object: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("could not write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Config(#[from] ConfigFileError),
    #[error("the config holds external secrets ({keys}) and this run has no AWS access")]
    SecretsOffline { keys: String },
    #[error("no public Route53 hosted zone of this account holds {zone}")]
    NoZone { zone: String },
    #[error("vpcId: {0}")]
    Vpc(#[from] VpcError),
    #[error("{path}: the entry {key} is not a VPC lookup: {message}")]
    BadVpcEntry {
        path: PathBuf,
        key: String,
        message: String,
    },
}

impl Diagnostic for ContextError {
    /// An AWS call or the disk failing is a failure; everything else is in the user's files.
    fn outcome(&self) -> Outcome {
        match self {
            ContextError::Aws(_)
            | ContextError::Vpc(VpcError::Aws(_))
            | ContextError::Read { .. }
            | ContextError::Write { .. } => Outcome::Failed,
            ContextError::Config(e) => e.outcome(),
            _ => Outcome::Invalid,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            ContextError::Parse { .. } => {
                Some("fix the JSON, or delete the file to look everything up again".into())
            }
            ContextError::Aws(e) => e.hint(),
            ContextError::Vpc(e) => e.hint(),
            ContextError::BadVpcEntry { .. } => Some(
                "delete the entry (or the file) so the VPC is looked up again by a run with AWS \
                 access"
                    .into(),
            ),
            ContextError::NoZone { .. } => Some(
                "create the zone (or delegate it here), set hostedZoneName to the zone that \
                 holds the domains, or set skipDns to true to create no DNS records"
                    .into(),
            ),
            ContextError::SecretsOffline { .. } => Some(
                "run without --offline so medplum-init reads them from Parameter Store, or \
                 write the values into the config"
                    .into(),
            ),
            _ => None,
        }
    }
}

fn az_key(account: &str, region: &str) -> String {
    format!("availability-zones:account={account}:region={region}")
}

fn zone_key(account: &str, zone: &str, region: &str) -> String {
    format!("hosted-zone:account={account}:domainName={zone}:region={region}")
}

/// The CDK context file, kept whole: keys medplum-init does not use survive a rewrite.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CdkContext {
    pub map: Map<String, Value>,
}

impl CdkContext {
    /// Reads `dir/cdk.context.json`; a missing file is an empty context.
    pub fn read(dir: &Path) -> Result<Self, ContextError> {
        let path = dir.join(CONTEXT_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => return Err(ContextError::Read { path, source }),
        };
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(map)) => Ok(Self { map }),
            Ok(_) => Err(ContextError::Parse {
                path,
                message: "the top level is not an object".into(),
            }),
            Err(e) => Err(ContextError::Parse {
                path,
                message: e.to_string(),
            }),
        }
    }

    /// Writes atomically, two-space indented like the CDK.
    pub fn write(&self, dir: &Path) -> Result<(), ContextError> {
        let path = dir.join(CONTEXT_FILE);
        let mut text = serde_json::to_string_pretty(&Value::Object(self.map.clone()))
            .expect("JSON maps serialise");
        text.push('\n');
        crate::fsutil::write_atomic(&path, text.as_bytes(), 0o644)
            .map_err(|source| ContextError::Write { path, source })
    }

    /// The lookups recorded for `account` and the stack's `region`. Hosted zones are global, so
    /// an entry recorded for any region counts.
    pub fn lookups(&self, account: &str, region: &str) -> Lookups {
        let availability_zones = self.map.get(&az_key(account, region)).and_then(|v| {
            v.as_array()?
                .iter()
                .map(|z| z.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
        });
        let prefix = format!("hosted-zone:account={account}:domainName=");
        let mut hosted_zones = BTreeMap::new();
        for (k, v) in &self.map {
            if !k.starts_with(&prefix) {
                continue;
            }
            let (Some(id), Some(name)) = (
                v.get("Id").and_then(Value::as_str),
                v.get("Name").and_then(Value::as_str),
            ) else {
                continue;
            };
            hosted_zones.insert(
                name.trim_end_matches('.').to_string(),
                id.trim_start_matches("/hostedzone/").to_string(),
            );
        }
        Lookups {
            availability_zones,
            hosted_zones,
            vpc: None,
        }
    }

    /// Everything recorded for `config`'s stacks: [`Self::lookups`] and the lookup of its
    /// `vpcId`, when it sets one.
    pub fn lookups_of(&self, config: &InfraConfig) -> Result<Lookups, ContextError> {
        let mut l = self.lookups(&config.account_number, &config.region);
        if let Some(id) = vpc_id(config) {
            l.vpc = self.vpc(&config.account_number, &config.region, id)?;
        }
        Ok(l)
    }

    /// The recorded lookup of `vpc_id`; `Ok(None)` when there is none. An entry that is there
    /// but unreadable is an error, not a reason to look it up again behind the user's back.
    pub fn vpc(
        &self,
        account: &str,
        region: &str,
        vpc_id: &str,
    ) -> Result<Option<VpcLookup>, ContextError> {
        let key = vpc::context_key(account, region, vpc_id);
        let Some(v) = self.map.get(&key) else {
            return Ok(None);
        };
        serde_json::from_value(v.clone())
            .map(Some)
            .map_err(|e| ContextError::BadVpcEntry {
                path: PathBuf::from(CONTEXT_FILE),
                key,
                message: e.to_string(),
            })
    }

    /// Records `lookups` under the keys the CDK would read for these stacks: the zones for every
    /// region that creates records, the availability zones for the stack's region. Returns true
    /// when something changed.
    pub fn record(&mut self, account: &str, region: &str, lookups: &Lookups) -> bool {
        let before = self.map.clone();
        if let Some(azs) = &lookups.availability_zones {
            self.map.insert(az_key(account, region), json!(azs));
        }
        let mut regions = vec![region];
        if region != crate::config::US_EAST_1 {
            regions.push(crate::config::US_EAST_1);
        }
        if let Some(v) = &lookups.vpc {
            self.map.insert(
                vpc::context_key(account, region, &v.vpc_id),
                serde_json::to_value(v).expect("lookups serialise"),
            );
        }
        for (name, id) in &lookups.hosted_zones {
            for r in &regions {
                self.map.insert(
                    zone_key(account, name, r),
                    json!({"Id": format!("/hostedzone/{id}"), "Name": format!("{name}.")}),
                );
            }
        }
        self.map != before
    }
}

/// Whether `lookups` can place the config's DNS records without asking Route53.
pub fn has_zone(config: &InfraConfig, lookups: &Lookups) -> bool {
    if config.skip_dns == Some(true) {
        return true;
    }
    let zones = zone_list(lookups);
    pick_zone(&zones, &config.domain_name, wanted(config)).is_some()
}

/// The config's `vpcId`, with "" meaning unset as the CDK's truthiness check treats it.
fn vpc_id(config: &InfraConfig) -> Option<&str> {
    config.vpc_id.as_deref().filter(|v| !v.is_empty())
}

fn wanted(config: &InfraConfig) -> Option<&str> {
    config.hosted_zone_name.as_deref().filter(|s| !s.is_empty())
}

fn zone_list(lookups: &Lookups) -> Vec<Zone> {
    lookups
        .hosted_zones
        .iter()
        .map(|(name, id)| Zone {
            id: id.clone(),
            name: name.clone(),
        })
        .collect()
}

/// The zone names that could hold `domain`, longest first (`a.b.example.com` →
/// `a.b.example.com`, `b.example.com`, `example.com`); single labels are never zones one owns.
pub fn candidate_zones(domain: &str) -> Vec<String> {
    let labels: Vec<&str> = domain.trim_end_matches('.').split('.').collect();
    (0..labels.len().saturating_sub(1))
        .map(|i| labels[i..].join("."))
        .collect()
}

/// Fills in the hosted zone from Route53 when `have` lacks it. Returns the lookups to synthesize
/// with (and to record).
pub async fn complete_online(
    clients: &AwsClients,
    config: &InfraConfig,
    have: &Lookups,
) -> Result<Lookups, AwsError> {
    let mut out = have.clone();
    if has_zone(config, have) {
        return Ok(out);
    }
    let r53 = clients.route53();
    let names = match wanted(config) {
        Some(w) => vec![w.to_string()],
        None => candidate_zones(&config.domain_name),
    };
    let mut found = Vec::new();
    for name in names {
        let res = r53
            .list_hosted_zones_by_name()
            .dns_name(&name)
            .max_items(10)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("route53", "ListHostedZonesByName", &e))?;
        for z in res.hosted_zones() {
            let zname = z.name().trim_end_matches('.');
            let private = z.config().is_some_and(|c| c.private_zone());
            if zname == name && !private {
                found.push(Zone {
                    id: z.id().trim_start_matches("/hostedzone/").to_string(),
                    name: zname.to_string(),
                });
            }
        }
    }
    if let Some(z) = pick_zone(&found, &config.domain_name, wanted(config)) {
        out.hosted_zones.insert(z.name.clone(), z.id.clone());
    }
    Ok(out)
}

/// The lookups to synthesize `config` with: from `cdk.context.json` in `dir`, completed from
/// Route53 when the file lacks the hosted zone and `clients` is given (then recorded in the
/// file, as the CDK does). Returns them and whether the file was updated.
pub async fn lookups_for(
    dir: &Path,
    config: &InfraConfig,
    clients: Option<&AwsClients>,
) -> Result<(Lookups, bool), ContextError> {
    let mut ctx = CdkContext::read(dir)?;
    let have = ctx.lookups_of(config)?;
    let vpc_id = vpc_id(config);
    let vpc_missing = vpc_id.is_some() && have.vpc.is_none();
    let Some(clients) = clients.filter(|_| !has_zone(config, &have) || vpc_missing) else {
        return Ok((have, false));
    };
    let mut found = complete_online(clients, config, &have).await?;
    if let Some(id) = vpc_id.filter(|_| vpc_missing) {
        found.vpc = Some(vpc::look_up(clients, &config.region, id).await?);
    }
    if !has_zone(config, &found) {
        let zone = config
            .hosted_zone_name
            .clone()
            .filter(|z| !z.is_empty())
            .unwrap_or_else(|| config.domain_name.clone());
        return Err(ContextError::NoZone { zone });
    }
    let mut recorded = false;
    if found != have && ctx.record(&config.account_number, &config.region, &found) {
        ctx.write(dir)?;
        recorded = true;
    }
    Ok((found, recorded))
}

/// Resolves the config's external secrets from Parameter Store (in the config's region, as the
/// CDK does) and parses the result. With `clients` absent, a config holding secrets is an error.
pub async fn resolve_config(
    doc: &ConfigDocument,
    clients: Option<&AwsClients>,
) -> Result<InfraConfig, ContextError> {
    let secrets = doc.external_secrets();
    if secrets.is_empty() {
        return Ok(doc.resolve(|_| Err("no external secrets expected".into()))?);
    }
    let Some(clients) = clients else {
        let keys: Vec<String> = secrets.iter().map(|(path, _)| path.clone()).collect();
        return Err(ContextError::SecretsOffline {
            keys: keys.join(", "),
        });
    };
    let ssm = clients.ssm();
    let mut values: HashMap<String, Result<String, String>> = HashMap::new();
    for (_, secret) in &secrets {
        if values.contains_key(&secret.key) {
            continue;
        }
        let value = match ssm
            .get_parameter()
            .name(&secret.key)
            .with_decryption(true)
            .send()
            .await
        {
            Ok(out) => out
                .parameter()
                .and_then(|p| p.value())
                .map(str::to_string)
                .ok_or_else(|| format!("SSM parameter {} has no value", secret.key)),
            Err(e) => {
                let err = AwsError::from_sdk("ssm", "GetParameter", &e);
                if err.is_not_found() {
                    Err(format!(
                        "SSM parameter {} does not exist in {}",
                        secret.key,
                        clients.region()
                    ))
                } else {
                    return Err(err.into());
                }
            }
        };
        values.insert(secret.key.clone(), value);
    }
    Ok(doc.resolve(|s| {
        values
            .get(&s.key)
            .cloned()
            .unwrap_or_else(|| Err("not fetched".into()))
    })?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference() -> CdkContext {
        let text = include_str!("../../tests/fixtures/reference/cdk.context.json");
        CdkContext {
            map: serde_json::from_str(text).unwrap(),
        }
    }

    #[test]
    fn reads_the_cdk_context_format() {
        let l = reference().lookups("123456789012", "us-east-1");
        assert_eq!(
            l.availability_zones.as_deref(),
            Some(
                &[
                    "us-east-1a".to_string(),
                    "us-east-1b".into(),
                    "us-east-1c".into()
                ][..]
            )
        );
        assert_eq!(
            l.hosted_zones.get("example.com").map(String::as_str),
            Some("Z123EXAMPLE")
        );
        // Another account's entries do not count; another region's zones do (Route53 is global).
        assert!(
            reference()
                .lookups("999999999999", "us-east-1")
                .hosted_zones
                .is_empty()
        );
        let eu = reference().lookups("123456789012", "eu-west-1");
        assert!(eu.availability_zones.is_none());
        assert_eq!(eu.hosted_zones.len(), 1);
    }

    #[test]
    fn records_round_trip_and_keep_other_keys() {
        let mut ctx = CdkContext::default();
        ctx.map
            .insert("acknowledged-issue-numbers".into(), json!([1]));
        let mut l = Lookups::default();
        l.hosted_zones
            .insert("staging.example.co.uk".into(), "Z9".into());
        l.availability_zones = Some(vec!["eu-west-2a".into(), "eu-west-2b".into()]);
        assert!(ctx.record("123456789012", "eu-west-2", &l));
        assert!(!ctx.record("123456789012", "eu-west-2", &l), "idempotent");
        // The us-east-1 stack creates records too, so the zone is recorded for both regions.
        assert!(ctx.map.contains_key(
            "hosted-zone:account=123456789012:domainName=staging.example.co.uk:region=us-east-1"
        ));
        assert_eq!(
            ctx.map["hosted-zone:account=123456789012:domainName=staging.example.co.uk:region=eu-west-2"]
                ["Id"],
            "/hostedzone/Z9"
        );
        assert_eq!(ctx.lookups("123456789012", "eu-west-2"), l);
        assert!(ctx.map.contains_key("acknowledged-issue-numbers"));
    }

    #[test]
    fn zone_candidates_go_from_longest_to_two_labels() {
        assert_eq!(
            candidate_zones("api.staging.example.co.uk"),
            [
                "api.staging.example.co.uk",
                "staging.example.co.uk",
                "example.co.uk",
                "co.uk"
            ]
        );
        assert!(candidate_zones("localhost").is_empty());
    }

    #[test]
    fn a_file_written_by_the_cdk_round_trips_through_disk() {
        let dir = tempfile::tempdir().unwrap();
        reference().write(dir.path()).unwrap();
        assert_eq!(CdkContext::read(dir.path()).unwrap(), reference());
        assert_eq!(
            CdkContext::read(&dir.path().join("none")).unwrap(),
            CdkContext::default()
        );
        std::fs::write(dir.path().join(CONTEXT_FILE), "[1]").unwrap();
        assert!(matches!(
            CdkContext::read(dir.path()),
            Err(ContextError::Parse { .. })
        ));
    }
}
