//! The rules of the data-risk guard, on change sets as CloudFormation describes them. Moto never
//! reports replacements or property values, so the rules are tested here; the refusal to deploy
//! is tested against moto with a removed bucket (tests/it/deploy.rs).

use serde_json::json;

use super::*;
use crate::deploy::changeset::{PropertyChange, Replacement};

fn change(action: ChangeAction, id: &str, ty: &str) -> ResourceChange {
    ResourceChange {
        action,
        logical_id: id.into(),
        resource_type: ty.into(),
        replacement: None,
        replacing_properties: vec![],
        scope: vec![],
        properties: vec![],
    }
}

fn replaced(id: &str, ty: &str, r: Replacement, by: &[&str]) -> ResourceChange {
    ResourceChange {
        replacement: Some(r),
        replacing_properties: by.iter().map(|p| p.to_string()).collect(),
        ..change(ChangeAction::Modify, id, ty)
    }
}

fn set(
    id: &str,
    ty: &str,
    name: &str,
    before: Option<&str>,
    after: Option<&str>,
) -> ResourceChange {
    ResourceChange {
        replacement: Some(Replacement::Never),
        properties: vec![PropertyChange {
            name: name.into(),
            before: before.map(str::to_string),
            after: after.map(str::to_string),
        }],
        ..change(ChangeAction::Modify, id, ty)
    }
}

/// The policies the synthesized template gives the cluster and the storage bucket.
fn template() -> Value {
    json!({"Resources": {
        "BackEndDatabaseCluster8B2F7305": {"Type": "AWS::RDS::DBCluster", "UpdateReplacePolicy": "Snapshot"},
        "StorageStorageBucket": {"Type": "AWS::S3::Bucket", "UpdateReplacePolicy": "Retain"},
        "AppBucket": {"Type": "AWS::S3::Bucket"}
    }})
}

const CLUSTER: &str = "BackEndDatabaseCluster8B2F7305";

#[test]
fn a_replaced_database_blocks_and_says_what_becomes_of_the_old_one() {
    let c = replaced(
        CLUSTER,
        "AWS::RDS::DBCluster",
        Replacement::Always,
        &["DBClusterIdentifier"],
    );
    let risks = assess(&template(), &[c]);
    assert_eq!(risks.len(), 1, "{risks:?}");
    let r = &risks[0];
    assert_eq!(r.severity, Severity::Blocking);
    assert_eq!(r.logical_id, CLUSTER);
    assert!(r.what.contains("the Medplum database"), "{}", r.what);
    assert!(r.what.contains("final snapshot"), "{}", r.what);
    assert_eq!(
        r.fix.as_deref(),
        Some(
            "forced by a new DBClusterIdentifier: undo the config change behind it to keep the resource"
        )
    );
}

#[test]
fn what_becomes_of_a_replaced_bucket_follows_its_update_replace_policy() {
    let kept = replaced(
        "StorageStorageBucket",
        "AWS::S3::Bucket",
        Replacement::Always,
        &[],
    );
    let deleted = replaced("AppBucket", "AWS::S3::Bucket", Replacement::Always, &[]);
    let risks = assess(&template(), &[kept, deleted]);
    assert!(
        risks[0].what.contains("kept outside the stack"),
        "{risks:?}"
    );
    assert!(
        risks[1].what.contains("deleted with what it holds"),
        "{risks:?}"
    );
    assert!(risks.iter().all(|r| r.severity == Severity::Blocking));
    assert!(risks.iter().all(|r| r.fix.is_none()));
}

#[test]
fn a_removed_bucket_blocks() {
    let risks = assess(
        &template(),
        &[change(
            ChangeAction::Remove,
            "StorageStorageBucket",
            "AWS::S3::Bucket",
        )],
    );
    assert_eq!(risks.len(), 1);
    assert_eq!(risks[0].severity, Severity::Blocking);
    assert!(risks[0].what.starts_with("removed"), "{}", risks[0].what);
}

#[test]
fn a_conditional_replacement_and_resources_without_data_only_caution() {
    let maybe = replaced(
        "StorageStorageBucket",
        "AWS::S3::Bucket",
        Replacement::Conditional,
        &[],
    );
    let instance = replaced(
        "BackEndDatabaseInstance1",
        "AWS::RDS::DBInstance",
        Replacement::Always,
        &["DBInstanceClass"],
    );
    let secret = change(
        ChangeAction::Remove,
        "BackEndSecret",
        "AWS::SecretsManager::Secret",
    );
    let risks = assess(&template(), &[maybe, instance, secret]);
    assert_eq!(risks.len(), 3, "{risks:?}");
    assert!(
        risks.iter().all(|r| r.severity == Severity::Caution),
        "{risks:?}"
    );
    assert!(risks[0].what.starts_with("may be replaced"));
}

#[test]
fn adds_in_place_modifies_and_other_types_carry_no_risk() {
    let risks = assess(
        &template(),
        &[
            change(ChangeAction::Add, CLUSTER, "AWS::RDS::DBCluster"),
            replaced(
                "BackEndService",
                "AWS::ECS::Service",
                Replacement::Always,
                &[],
            ),
            replaced(CLUSTER, "AWS::RDS::DBCluster", Replacement::Never, &[]),
            set(
                CLUSTER,
                "AWS::RDS::DBCluster",
                "BackupRetentionPeriod",
                Some("7"),
                Some("14"),
            ),
            change(ChangeAction::Remove, "AppLogs", "AWS::Logs::LogGroup"),
        ],
    );
    assert!(risks.is_empty(), "{risks:?}");
}

#[test]
fn a_major_engine_upgrade_blocks_and_names_the_value_to_keep() {
    // What the first medplum-init deploy over a @medplum/cdk 4.0.2 stack without
    // rdsInstanceVersion would do.
    let c = set(
        CLUSTER,
        "AWS::RDS::DBCluster",
        "EngineVersion",
        Some("12.9"),
        Some("16.9"),
    );
    let risks = assess(&template(), &[c]);
    assert_eq!(risks.len(), 1);
    assert_eq!(risks[0].severity, Severity::Blocking);
    assert!(risks[0].what.contains("12.9 → 16.9"), "{}", risks[0].what);
    assert!(risks[0].what.contains("major"));
    assert_eq!(
        risks[0].fix.as_deref(),
        Some("to keep it, set \"rdsInstanceVersion\": \"12.9\" in the config")
    );
}

#[test]
fn a_minor_engine_upgrade_cautions_and_an_unknown_one_counts_as_major() {
    let minor = set(
        CLUSTER,
        "AWS::RDS::DBCluster",
        "EngineVersion",
        Some("16.6"),
        Some("16.9"),
    );
    let risks = assess(&template(), &[minor]);
    assert_eq!(risks[0].severity, Severity::Caution);
    assert!(risks[0].what.contains("minor"));

    let unknown = set(CLUSTER, "AWS::RDS::DBCluster", "EngineVersion", None, None);
    let risks = assess(&template(), &[unknown]);
    assert_eq!(risks[0].severity, Severity::Blocking);
    assert_eq!(
        risks[0].fix.as_deref(),
        Some(
            "to keep it, set \"rdsInstanceVersion\" in the config to the version the cluster runs"
        )
    );
}

#[test]
fn a_redis_resize_cautions_with_the_node_type_to_keep() {
    let c = set(
        "BackEndRedisCluster",
        "AWS::ElastiCache::ReplicationGroup",
        "CacheNodeType",
        Some("cache.t2.medium"),
        Some("cache.t4g.medium"),
    );
    let risks = assess(&template(), &[c]);
    assert_eq!(risks.len(), 1);
    assert_eq!(risks[0].severity, Severity::Caution);
    assert!(risks[0].what.contains("cache.t2.medium → cache.t4g.medium"));
    assert_eq!(
        risks[0].fix.as_deref(),
        Some("to keep it, set \"cacheNodeType\": \"cache.t2.medium\" in the config")
    );
}

#[test]
fn blocking_risks_come_first() {
    let risks = assess(
        &template(),
        &[
            replaced(
                "BackEndDatabaseInstance1",
                "AWS::RDS::DBInstance",
                Replacement::Always,
                &[],
            ),
            change(ChangeAction::Remove, "AppBucket", "AWS::S3::Bucket"),
        ],
    );
    let order: Vec<Severity> = risks.iter().map(|r| r.severity).collect();
    assert_eq!(order, [Severity::Blocking, Severity::Caution]);
}

/// `rdsIdsMajorVersionSuffix` switched on (or a major version change with it on) renames the
/// cluster: the change set removes the old one and adds `BackEndDatabaseClusterPG<major>…`.
#[test]
fn a_cluster_renamed_by_the_ids_suffix_blocks_and_names_the_keys() {
    let changes = [
        change(ChangeAction::Remove, CLUSTER, "AWS::RDS::DBCluster"),
        change(
            ChangeAction::Add,
            "BackEndDatabaseClusterPG16C8A3B565",
            "AWS::RDS::DBCluster",
        ),
    ];
    let risks = assess(&template(), &changes);
    assert_eq!(risks.len(), 1, "{risks:?}");
    assert_eq!(risks[0].logical_id, CLUSTER);
    assert_eq!(risks[0].severity, Severity::Blocking);
    let fix = risks[0].fix.as_deref().unwrap();
    assert!(fix.contains("rdsIdsMajorVersionSuffix"), "{fix}");
    assert!(fix.contains("rdsInstanceVersion"), "{fix}");
    // With the suffix on, a major upgrade removes the suffixed cluster the same way.
    let renamed = [change(
        ChangeAction::Remove,
        "BackEndDatabaseClusterPG16C8A3B565",
        "AWS::RDS::DBCluster",
    )];
    assert_eq!(
        assess(&template(), &renamed)[0].severity,
        Severity::Blocking
    );
}

#[test]
fn a_new_parameter_group_is_a_caution() {
    let risks = assess(
        &template(),
        &[set(
            CLUSTER,
            "AWS::RDS::DBCluster",
            "DBClusterParameterGroupName",
            Some("old"),
            Some("new"),
        )],
    );
    assert_eq!(risks.len(), 1);
    assert_eq!(risks[0].severity, Severity::Caution);
    assert!(risks[0].what.contains("parameter group"));
}

/// `vpcId` switched (or `maxAzs` changed) moves the database's subnet group: worth reading first,
/// since Aurora cannot change VPC in place.
#[test]
fn new_database_subnets_are_a_caution_naming_vpc_id() {
    let risks = assess(
        &template(),
        &[set(
            "BackEndDatabaseClusterSubnetsEE06EF7A",
            "AWS::RDS::DBSubnetGroup",
            "SubnetIds",
            None,
            None,
        )],
    );
    assert_eq!(risks.len(), 1, "{risks:?}");
    assert_eq!(risks[0].severity, Severity::Caution);
    assert!(risks[0].what.contains("another VPC"), "{:?}", risks[0]);
    assert!(risks[0].fix.as_deref().unwrap().contains("vpcId"));
}
