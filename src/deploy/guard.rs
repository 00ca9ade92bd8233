//! What in a change set puts stored data at risk, read before anything executes.
//!
//! Same logical IDs make most config changes in-place updates, but a few changes are not: a
//! resource that holds data (the Aurora cluster, a bucket, the Redis cache) replaced or removed,
//! or the database moved to a new major engine version, which cannot be undone. The first
//! medplum-init deploy over a stack made by `@medplum/cdk` meets the version case when the config
//! leaves `rdsInstanceVersion` out (the defaults differ, see `docs/deploy-engine.md`). The diff
//! lists every [`Risk`] under its stack; a deploy refuses [`Severity::Blocking`] ones unless the
//! user allows them (`--allow-data-risk`), with `--yes` or not.

use serde::Serialize;
use serde_json::Value;

use super::changeset::{ChangeAction, ResourceChange};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Data is deleted, left behind or changed for good: the deploy needs `--allow-data-risk`.
    Blocking,
    /// Worth reading first (downtime, a resize); the deploy goes on.
    Caution,
}

/// One thing in a stack's change set that touches stored data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Risk {
    pub logical_id: String,
    pub severity: Severity,
    /// What happens, in a sentence.
    pub what: String,
    /// How to avoid it, when the config can.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// Resource types that hold data, what they hold, and whether losing the resource loses it.
const HOLDERS: &[(&str, &str, bool)] = &[
    ("AWS::RDS::DBCluster", "the Medplum database", true),
    ("AWS::S3::Bucket", "stored files", true),
    (
        "AWS::ElastiCache::ReplicationGroup",
        "Redis (sessions and queued background jobs)",
        true,
    ),
    // Aurora keeps data in the cluster volume: an instance replaced means downtime, not loss.
    ("AWS::RDS::DBInstance", "a database instance", false),
    (
        "AWS::SecretsManager::Secret",
        "generated credentials, which are generated anew",
        false,
    ),
];

/// The risks in `changes`, a stack's change set for `template` (the template being deployed,
/// whose `UpdateReplacePolicy` says what becomes of a replaced resource). Blocking ones first.
pub fn assess(template: &Value, changes: &[ResourceChange]) -> Vec<Risk> {
    let mut risks: Vec<Risk> = changes
        .iter()
        .flat_map(|c| {
            let mut out: Vec<Risk> = holder_risk(template, c).into_iter().collect();
            out.extend(property_risks(c));
            out
        })
        .collect();
    risks.sort_by_key(|r| r.severity);
    risks
}

fn holder_risk(template: &Value, c: &ResourceChange) -> Option<Risk> {
    let &(_, holds, loses) = HOLDERS.iter().find(|(ty, ..)| *ty == c.resource_type)?;
    // A conditional replacement depends on values known only at execution (often it does not
    // happen): shown, not refused.
    let severity = if loses && !c.may_replace() {
        Severity::Blocking
    } else {
        Severity::Caution
    };
    let what = match c.action {
        ChangeAction::Remove => format!(
            "removed: it holds {holds}; CloudFormation deletes it unless the deployed stack's DeletionPolicy keeps it"
        ),
        _ if c.replaces() => {
            let policy = template["Resources"][&c.logical_id]["UpdateReplacePolicy"].as_str();
            format!("replaced: it holds {holds}; {}", after_replacement(policy))
        }
        _ if c.may_replace() => format!(
            "may be replaced (decided at deploy time): it holds {holds}; {}",
            after_replacement(template["Resources"][&c.logical_id]["UpdateReplacePolicy"].as_str())
        ),
        _ => return None,
    };
    let fix = if !c.replacing_properties.is_empty() {
        Some(format!(
            "forced by a new {}: undo the config change behind it to keep the resource",
            c.replacing_properties.join(", ")
        ))
    } else if c.action == ChangeAction::Remove && is_medplum_cluster(c) {
        Some(CLUSTER_ID_FIX.to_string())
    } else {
        None
    };
    Some(Risk {
        logical_id: c.logical_id.clone(),
        severity,
        what,
        fix,
    })
}

/// The Medplum cluster's logical ID is `BackEndDatabaseCluster…`, with `PG<major>` after it when
/// `rdsIdsMajorVersionSuffix` is on: a removed one means the ID changed under the same stack.
fn is_medplum_cluster(c: &ResourceChange) -> bool {
    c.resource_type == "AWS::RDS::DBCluster" && c.logical_id.starts_with("BackEndDatabaseCluster")
}

const CLUSTER_ID_FIX: &str = "the cluster's logical ID changed: rdsIdsMajorVersionSuffix was \
     switched, or rdsInstanceVersion moved to another major version with it on, and the stack \
     would start on a new, empty cluster. Undo that change to keep the database; to upgrade the \
     major version, upgrade the cluster in place (keep the suffix as it is) or migrate the data \
     to the new cluster first";

fn after_replacement(policy: Option<&str>) -> &'static str {
    match policy {
        Some("Retain") => {
            "the old one is kept outside the stack and the service starts on a new, empty one"
        }
        Some("Snapshot") => {
            "the old one is deleted after a final snapshot and the service starts on a new, empty one"
        }
        _ => "the old one is deleted with what it holds",
    }
}

/// In-place changes that matter although nothing is replaced.
fn property_risks(c: &ResourceChange) -> Vec<Risk> {
    if c.action != ChangeAction::Modify {
        return Vec::new();
    }
    let mut out = Vec::new();
    for p in &c.properties {
        match (c.resource_type.as_str(), p.name.as_str()) {
            ("AWS::RDS::DBCluster", "EngineVersion") => out.push(engine_version(c, p)),
            ("AWS::RDS::DBCluster", "DBClusterParameterGroupName")
            | ("AWS::RDS::DBInstance", "DBParameterGroupName") => out.push(Risk {
                logical_id: c.logical_id.clone(),
                severity: Severity::Caution,
                what: "moves to another parameter group (rdsPersistentParameterGroups or \
                       rdsIdsMajorVersionSuffix changed): static parameters apply at the next \
                       reboot of the instances"
                    .to_string(),
                fix: None,
            }),
            // Within the VPC (maxAzs changed) this is in place; a vpcId switched under a
            // deployed database asks Aurora to move VPC, which it refuses: the update fails and
            // rolls back after the stack's other changes.
            ("AWS::RDS::DBSubnetGroup", "SubnetIds") => out.push(Risk {
                logical_id: c.logical_id.clone(),
                severity: Severity::Caution,
                what: "the database's subnets change: in place within its VPC (maxAzs changed), \
                       but Aurora cannot move to another VPC, so with vpcId switched the update \
                       fails and rolls back"
                    .to_string(),
                fix: Some(
                    "keep vpcId as deployed; to move the database to another VPC, restore a \
                     snapshot into a new environment there"
                        .to_string(),
                ),
            }),
            ("AWS::ElastiCache::ReplicationGroup", "CacheNodeType") => out.push(Risk {
                logical_id: c.logical_id.clone(),
                severity: Severity::Caution,
                what: format!(
                    "Redis node type {}: the nodes are resized in place",
                    from_to(p)
                ),
                fix: Some(keep(
                    "cacheNodeType",
                    p.before.as_deref(),
                    "the node type it runs",
                )),
            }),
            _ => {}
        }
    }
    out
}

fn engine_version(c: &ResourceChange, p: &super::changeset::PropertyChange) -> Risk {
    let major = |v: &Option<String>| {
        v.as_deref()
            .and_then(|v| v.split('.').next())
            .map(str::to_string)
    };
    // Without the values (CloudFormation sends them on request; moto never) the change may be a
    // major upgrade: it is treated as one.
    let is_major = match (major(&p.before), major(&p.after)) {
        (Some(b), Some(a)) => a != b,
        _ => true,
    };
    let (severity, what) = if is_major {
        (
            Severity::Blocking,
            format!(
                "Aurora PostgreSQL {}: a major version upgrade, done in place with downtime and impossible to undo",
                from_to(p)
            ),
        )
    } else {
        (
            Severity::Caution,
            format!(
                "Aurora PostgreSQL {}: a minor upgrade, done in place with a short outage",
                from_to(p)
            ),
        )
    };
    Risk {
        logical_id: c.logical_id.clone(),
        severity,
        what,
        fix: Some(keep(
            "rdsInstanceVersion",
            p.before.as_deref(),
            "the version the cluster runs",
        )),
    }
}

fn from_to(p: &super::changeset::PropertyChange) -> String {
    match (&p.before, &p.after) {
        (Some(b), Some(a)) => format!("{b} → {a}"),
        (None, Some(a)) => format!("changes to {a}"),
        _ => "changes".to_string(),
    }
}

fn keep(key: &str, before: Option<&str>, otherwise: &str) -> String {
    match before {
        Some(b) => format!("to keep it, set \"{key}\": \"{b}\" in the config"),
        None => format!("to keep it, set \"{key}\" in the config to {otherwise}"),
    }
}

#[cfg(test)]
#[path = "guard_tests.rs"]
mod tests;
