//! What may appear in an answers file: Medplum's CDK keys at the top level, `[server]` keys, and
//! medplum-init's own step tables. Unknown keys get a suggestion from
//! [`crate::config::validators::did_you_mean`].

/// The TOML type a key takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Str,
    Int,
    Bool,
    /// A table whose values are strings (`environment`, `rdsClusterParameters`).
    StrMap,
    /// Any table, passed through to the config file as JSON.
    Table,
    /// Any array, passed through as JSON.
    Array,
}

impl Ty {
    pub fn describe(self) -> &'static str {
        match self {
            Ty::Str => "a string",
            Ty::Int => "an integer",
            Ty::Bool => "a boolean",
            Ty::StrMap => "a table of strings",
            Ty::Table => "a table",
            Ty::Array => "an array",
        }
    }
}

/// A top-level key: one of Medplum's CDK config keys.
#[derive(Debug, Clone, Copy)]
pub struct CdkKey {
    pub key: &'static str,
    pub ty: Ty,
}

const fn c(key: &'static str, ty: Ty) -> CdkKey {
    CdkKey { key, ty }
}

/// Every CDK config key an answers file may set. Order follows the config file's.
pub const CDK_KEYS: &[CdkKey] = &[
    c("name", Ty::Str),
    c("stackName", Ty::Str),
    c("accountNumber", Ty::Str),
    c("region", Ty::Str),
    c("domainName", Ty::Str),
    c("hostedZoneName", Ty::Str),
    c("skipDns", Ty::Bool),
    c("vpcId", Ty::Str),
    c("apiPort", Ty::Int),
    c("apiDomainName", Ty::Str),
    c("apiSslCertArn", Ty::Str),
    c("apiInternetFacing", Ty::Bool),
    c("apiWafIpSetArn", Ty::Str),
    c("appDomainName", Ty::Str),
    c("appSslCertArn", Ty::Str),
    c("appApiProxy", Ty::Bool),
    c("appWafIpSetArn", Ty::Str),
    c("appLoggingBucket", Ty::Str),
    c("appLoggingPrefix", Ty::Str),
    c("storageBucketName", Ty::Str),
    c("storageDomainName", Ty::Str),
    c("storageSslCertArn", Ty::Str),
    c("signingKeyId", Ty::Str),
    c("storagePublicKey", Ty::Str),
    c("storageWafIpSetArn", Ty::Str),
    c("storageLoggingBucket", Ty::Str),
    c("storageLoggingPrefix", Ty::Str),
    c("baseUrl", Ty::Str),
    c("clientId", Ty::Str),
    c("googleClientId", Ty::Str),
    c("recaptchaSiteKey", Ty::Str),
    c("registerEnabled", Ty::Bool),
    c("maxAzs", Ty::Int),
    c("rdsInstances", Ty::Int),
    c("rdsInstanceType", Ty::Str),
    c("rdsReaderInstanceType", Ty::Str),
    c("rdsInstanceVersion", Ty::Str),
    c("rdsClusterParameters", Ty::StrMap),
    c("rdsAutoMinorVersionUpgrade", Ty::Bool),
    c("rdsSecretsArn", Ty::Str),
    c("rdsProxyEnabled", Ty::Bool),
    c("rdsForceRetain", Ty::Bool),
    c("rdsPersistentParameterGroups", Ty::Bool),
    c("rdsIdsMajorVersionSuffix", Ty::Bool),
    c("cacheNodeType", Ty::Str),
    c("cacheSecurityGroupId", Ty::Str),
    c("desiredServerCount", Ty::Int),
    c("serverImage", Ty::Str),
    c("serverMemory", Ty::Int),
    c("serverCpu", Ty::Int),
    c("environment", Ty::StrMap),
    c("additionalContainers", Ty::Array),
    c("containerRegistryCredentialsSecretArn", Ty::Str),
    c("containerInsights", Ty::Bool),
    c("containerInsightsV2", Ty::Str),
    c("fargateAutoScaling", Ty::Table),
    c("loadBalancerSecurityGroupId", Ty::Str),
    c("loadBalancerLoggingEnabled", Ty::Bool),
    c("loadBalancerLoggingBucket", Ty::Str),
    c("loadBalancerLoggingPrefix", Ty::Str),
    c("loadBalancerAlgorithm", Ty::Str),
    c("clamscanEnabled", Ty::Bool),
    c("clamscanLoggingBucket", Ty::Str),
    c("clamscanLoggingPrefix", Ty::Str),
    c("guardDutyMalwareProtectionEnabled", Ty::Bool),
    c("wafLogGroupName", Ty::Str),
    c("wafLogGroupCreate", Ty::Bool),
    c("cloudTrailAlarms", Ty::Table),
    c("mtlsDomainName", Ty::Str),
    c("mtlsSslCertArn", Ty::Str),
    c("mtlsInternetFacing", Ty::Bool),
    c("mtlsWafIpSetArn", Ty::Str),
    c("fireLens", Ty::Table),
    c("workerServices", Ty::Array),
    c("cacheRedis", Ty::Table),
    c("rateLimitRedis", Ty::Table),
    c("pubSubRedis", Ty::Table),
    c("backgroundJobsRedis", Ty::Table),
];

pub fn cdk_key(key: &str) -> Option<&'static CdkKey> {
    CDK_KEYS.iter().find(|k| k.key == key)
}

/// medplum-init's own tables and their keys.
pub const TOOL_TABLES: &[(&str, &[(&str, Ty)])] = &[
    (
        "certificates",
        &[
            ("api", Ty::Str),
            ("app", Ty::Str),
            ("storage", Ty::Str),
            ("dns_records", Ty::Bool),
            ("wait", Ty::Bool),
            ("wait_timeout_minutes", Ty::Int),
        ],
    ),
    ("email", &[("identity", Ty::Str)]),
    ("logging", &[("create_bucket", Ty::Bool)]),
    ("bot_layer", &[("zip", Ty::Str)]),
    ("parameters", &[("apply", Ty::Bool)]),
    ("deploy", &[("enabled", Ty::Bool)]),
];

pub fn tool_table(name: &str) -> Option<&'static [(&'static str, Ty)]> {
    TOOL_TABLES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, keys)| *keys)
}

/// Everything allowed at the top level, for suggestions.
pub fn top_level_names() -> impl Iterator<Item = &'static str> {
    CDK_KEYS
        .iter()
        .map(|k| k.key)
        .chain(TOOL_TABLES.iter().map(|(n, _)| *n))
        .chain(["server"])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::validators::did_you_mean;

    #[test]
    fn suggestions() {
        assert_eq!(
            did_you_mean("domianName", top_level_names()),
            Some("domainName")
        );
        assert_eq!(did_you_mean("apiport", top_level_names()), Some("apiPort"));
        assert_eq!(did_you_mean("zzzzzzzzzzzz", top_level_names()), None);
    }

    #[test]
    fn a_huge_word_gets_no_suggestion() {
        let huge = format!("domainName{}", "x".repeat(2 << 20));
        assert_eq!(did_you_mean(&huge, top_level_names()), None);
    }

    #[test]
    fn every_cdk_key_is_in_the_config_order() {
        for k in CDK_KEYS {
            assert!(
                crate::config::infra::KEY_ORDER.contains(&k.key),
                "{} missing from KEY_ORDER",
                k.key
            );
        }
    }
}
