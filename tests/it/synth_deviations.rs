//! The deliberate differences between medplum-init's templates and `@medplum/cdk` 4.0.2's, per
//! parity fixture. docs/deploy-engine.md carries the same table; `synth_parity` checks both.

/// One deliberate difference from the CDK's output.
pub struct Deviation {
    /// Fixture folders it applies to, comma-separated.
    pub fixture: &'static str,
    /// `primary` or `us-east-1`.
    pub stack: &'static str,
    /// Template section and entry, e.g. `Resources.CDKMetadata`.
    pub entry: &'static str,
    /// Path inside the entry (`Properties.EngineVersion`), empty for the whole entry.
    pub path: &'static str,
    pub reason: &'static str,
}

const NO_BOOTSTRAP: &str = "medplum-init deploys without the CDK bootstrap stack";
const NO_METADATA: &str = "CDK version analytics; nothing reads it";
const AURORA_16: &str =
    "default Aurora PostgreSQL 16.9 (upstream's current default; 12.9 needs paid Extended Support)";
const REDIS_T4G: &str =
    "default cache.t4g.medium: ElastiCache refuses cache.t2.medium for new clusters (medplum#8985)";
const OAI_IN_PRIMARY: &str = "origin access identity created in the primary stack so its bucket \
    policy can grant it (the CDK leaves the grant to `medplum aws update-bucket-policies`)";
const OAI_GRANT: &str = "grants the origin access identity read access, which the CDK cannot do \
    across stacks";
const CLOUDTRAIL_ONCE: &str = "CloudTrail alarms in the primary stack only: the copy in the \
    us-east-1 stack is a second multi-region trail of the same events, and its alarms cannot \
    notify an snsTopicArn in another region";
const OAI_PARAMETER: &str =
    "the us-east-1 stack takes the identity from the primary stack's output";

macro_rules! d {
    ($f:literal, $s:literal, $e:literal, $p:literal, $r:expr) => {
        Deviation {
            fixture: $f,
            stack: $s,
            entry: $e,
            path: $p,
            reason: $r,
        }
    };
}

pub const DEVIATIONS: &[Deviation] = &[
    // Every resource under CloudTrailAlarms (the entry is a prefix when it ends in `*`).
    d!(
        "cloudtrail, all",
        "us-east-1",
        "Resources.CloudTrailAlarms*",
        "",
        CLOUDTRAIL_ONCE
    ),
    // us-east-1, defaults
    d!(
        "reference, vpc",
        "primary",
        "Parameters.BootstrapVersion",
        "",
        NO_BOOTSTRAP
    ),
    d!(
        "reference, vpc",
        "primary",
        "Rules.CheckBootstrapVersion",
        "",
        NO_BOOTSTRAP
    ),
    d!(
        "reference, vpc",
        "primary",
        "Resources.CDKMetadata",
        "",
        NO_METADATA
    ),
    d!(
        "reference, vpc",
        "primary",
        "Resources.BackEndMedplumDatabaseClusterParamsF04B446D",
        "Properties.Description",
        AURORA_16
    ),
    d!(
        "reference, vpc",
        "primary",
        "Resources.BackEndMedplumDatabaseClusterParamsF04B446D",
        "Properties.Family",
        AURORA_16
    ),
    d!(
        "reference, vpc",
        "primary",
        "Resources.BackEndDatabaseCluster8B2F7305",
        "Properties.EngineVersion",
        AURORA_16
    ),
    d!(
        "reference, vpc",
        "primary",
        "Resources.BackEndRedisCluster52D28A6F",
        "Properties.CacheNodeType",
        REDIS_T4G
    ),
    // us-east-1, every optional key set explicitly: nothing but the CDK's own furniture differs
    d!(
        "features",
        "primary",
        "Parameters.BootstrapVersion",
        "",
        NO_BOOTSTRAP
    ),
    d!(
        "features",
        "primary",
        "Rules.CheckBootstrapVersion",
        "",
        NO_BOOTSTRAP
    ),
    d!(
        "features",
        "primary",
        "Resources.CDKMetadata",
        "",
        NO_METADATA
    ),
    // eu-west-1: two stacks
    d!(
        "eu, rds, cloudtrail, all",
        "primary",
        "Parameters.BootstrapVersion",
        "",
        NO_BOOTSTRAP
    ),
    d!(
        "eu, rds, cloudtrail, all",
        "primary",
        "Rules.CheckBootstrapVersion",
        "",
        NO_BOOTSTRAP
    ),
    d!(
        "eu, rds, cloudtrail, all",
        "primary",
        "Resources.CDKMetadata",
        "",
        NO_METADATA
    ),
    d!(
        "eu, cloudtrail",
        "primary",
        "Resources.BackEndMedplumDatabaseClusterParamsF04B446D",
        "Properties.Description",
        AURORA_16
    ),
    d!(
        "eu, cloudtrail",
        "primary",
        "Resources.BackEndMedplumDatabaseClusterParamsF04B446D",
        "Properties.Family",
        AURORA_16
    ),
    d!(
        "eu, cloudtrail",
        "primary",
        "Resources.BackEndDatabaseCluster8B2F7305",
        "Properties.EngineVersion",
        AURORA_16
    ),
    d!(
        "eu, rds, cloudtrail, all",
        "primary",
        "Resources.BackEndRedisCluster52D28A6F",
        "Properties.CacheNodeType",
        REDIS_T4G
    ),
    d!(
        "eu, rds, cloudtrail, all",
        "primary",
        "Resources.FrontEndOriginAccessIdentity6D7F5EB8",
        "",
        OAI_IN_PRIMARY
    ),
    d!(
        "eu, rds, cloudtrail, all",
        "primary",
        "Resources.StorageOriginAccessIdentity7CB6436A",
        "",
        OAI_IN_PRIMARY
    ),
    d!(
        "eu, rds, cloudtrail, all",
        "primary",
        "Outputs.AppOriginAccessIdentity",
        "",
        OAI_PARAMETER
    ),
    d!(
        "eu, rds, cloudtrail, all",
        "primary",
        "Outputs.StorageOriginAccessIdentity",
        "",
        OAI_PARAMETER
    ),
    d!(
        "eu, rds, cloudtrail, all",
        "primary",
        "Resources.FrontEndAppBucketPolicyBAED1B9B",
        "Properties.PolicyDocument.Statement",
        OAI_GRANT
    ),
    d!(
        "eu, rds, cloudtrail, all",
        "primary",
        "Resources.StorageStorageBucketPolicy77CC849A",
        "Properties.PolicyDocument.Statement",
        OAI_GRANT
    ),
    d!(
        "eu, rds, cloudtrail, all",
        "us-east-1",
        "Parameters.BootstrapVersion",
        "",
        NO_BOOTSTRAP
    ),
    d!(
        "eu, rds, cloudtrail, all",
        "us-east-1",
        "Rules.CheckBootstrapVersion",
        "",
        NO_BOOTSTRAP
    ),
    d!(
        "eu, rds, cloudtrail, all",
        "us-east-1",
        "Resources.CDKMetadata",
        "",
        NO_METADATA
    ),
    d!(
        "eu, rds, cloudtrail, all",
        "us-east-1",
        "Resources.FrontEndOriginAccessIdentity6D7F5EB8",
        "",
        OAI_IN_PRIMARY
    ),
    d!(
        "eu, rds, cloudtrail, all",
        "us-east-1",
        "Resources.StorageOriginAccessIdentity7CB6436A",
        "",
        OAI_IN_PRIMARY
    ),
    d!(
        "eu, rds, cloudtrail, all",
        "us-east-1",
        "Parameters.AppOriginAccessIdentity",
        "",
        OAI_PARAMETER
    ),
    d!(
        "eu, rds, cloudtrail, all",
        "us-east-1",
        "Parameters.StorageOriginAccessIdentity",
        "",
        OAI_PARAMETER
    ),
    d!(
        "eu, rds, cloudtrail, all",
        "us-east-1",
        "Resources.FrontEndAppDistributionA2F700A1",
        "Properties.DistributionConfig.Origins[0].S3OriginConfig.OriginAccessIdentity",
        OAI_PARAMETER
    ),
    d!(
        "eu, rds, cloudtrail, all",
        "us-east-1",
        "Resources.StorageStorageDistributionAF8103AC",
        "Properties.DistributionConfig.Origins[0].S3OriginConfig.OriginAccessIdentity",
        OAI_PARAMETER
    ),
    // us-west-2: two stacks, no DNS, the user's database, imported security groups
    d!(
        "byo",
        "primary",
        "Parameters.BootstrapVersion",
        "",
        NO_BOOTSTRAP
    ),
    d!(
        "byo",
        "primary",
        "Rules.CheckBootstrapVersion",
        "",
        NO_BOOTSTRAP
    ),
    d!("byo", "primary", "Resources.CDKMetadata", "", NO_METADATA),
    d!(
        "byo",
        "primary",
        "Resources.BackEndRedisCluster52D28A6F",
        "Properties.CacheNodeType",
        REDIS_T4G
    ),
    d!(
        "byo",
        "primary",
        "Resources.FrontEndOriginAccessIdentity6D7F5EB8",
        "",
        OAI_IN_PRIMARY
    ),
    d!(
        "byo",
        "primary",
        "Resources.StorageOriginAccessIdentity7CB6436A",
        "",
        OAI_IN_PRIMARY
    ),
    d!(
        "byo",
        "primary",
        "Outputs.AppOriginAccessIdentity",
        "",
        OAI_PARAMETER
    ),
    d!(
        "byo",
        "primary",
        "Outputs.StorageOriginAccessIdentity",
        "",
        OAI_PARAMETER
    ),
    d!(
        "byo",
        "primary",
        "Resources.FrontEndAppBucketPolicyBAED1B9B",
        "Properties.PolicyDocument.Statement",
        OAI_GRANT
    ),
    d!(
        "byo",
        "primary",
        "Resources.StorageStorageBucketPolicy77CC849A",
        "Properties.PolicyDocument.Statement",
        OAI_GRANT
    ),
    d!(
        "byo",
        "us-east-1",
        "Parameters.BootstrapVersion",
        "",
        NO_BOOTSTRAP
    ),
    d!(
        "byo",
        "us-east-1",
        "Rules.CheckBootstrapVersion",
        "",
        NO_BOOTSTRAP
    ),
    d!("byo", "us-east-1", "Resources.CDKMetadata", "", NO_METADATA),
    d!(
        "byo",
        "us-east-1",
        "Resources.FrontEndOriginAccessIdentity6D7F5EB8",
        "",
        OAI_IN_PRIMARY
    ),
    d!(
        "byo",
        "us-east-1",
        "Resources.StorageOriginAccessIdentity7CB6436A",
        "",
        OAI_IN_PRIMARY
    ),
    d!(
        "byo",
        "us-east-1",
        "Parameters.AppOriginAccessIdentity",
        "",
        OAI_PARAMETER
    ),
    d!(
        "byo",
        "us-east-1",
        "Parameters.StorageOriginAccessIdentity",
        "",
        OAI_PARAMETER
    ),
    d!(
        "byo",
        "us-east-1",
        "Resources.FrontEndAppDistributionA2F700A1",
        "Properties.DistributionConfig.Origins[0].S3OriginConfig.OriginAccessIdentity",
        OAI_PARAMETER
    ),
    d!(
        "byo",
        "us-east-1",
        "Resources.StorageStorageDistributionAF8103AC",
        "Properties.DistributionConfig.Origins[0].S3OriginConfig.OriginAccessIdentity",
        OAI_PARAMETER
    ),
];
