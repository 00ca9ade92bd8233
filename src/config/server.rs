//! The Medplum server config schema: every key the server reads from `/medplum/<env>/<key>`.
//!
//! Each entry says how the server coerces the SSM string (its integer, boolean, JSON and
//! comma-separated key sets), the default it applies, whether init must write it, who creates
//! it, and whether it is a secret (masked in every summary, event and log).

use super::US_EAST_1;

/// How the server interprets a parameter's string value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    /// An `https://…` URL.
    Url,
    Integer,
    Boolean,
    /// A JSON object or array, stored as its JSON text.
    Json,
    /// A comma-separated list, stored joined with `,`.
    Csv,
    /// One of a fixed set of strings.
    Enum(&'static [&'static str]),
}

/// Who writes a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreatedBy {
    /// medplum-init (or `medplum aws init`) writes it before the first deploy.
    Init,
    /// The CloudFormation stack creates it; init must never pre-create it.
    Cdk,
    /// Only when the user sets it.
    User,
}

#[derive(Debug, Clone, Copy)]
pub struct ServerKey {
    pub key: &'static str,
    pub kind: Kind,
    /// The server's own default, as text; `None` when there is none.
    pub default: Option<&'static str>,
    pub required: bool,
    pub created_by: CreatedBy,
    pub secret: bool,
    pub deprecated: bool,
}

const fn k(key: &'static str, kind: Kind) -> ServerKey {
    ServerKey {
        key,
        kind,
        default: None,
        required: false,
        created_by: CreatedBy::User,
        secret: false,
        deprecated: false,
    }
}

impl ServerKey {
    const fn default(mut self, d: &'static str) -> Self {
        self.default = Some(d);
        self
    }
    const fn required(mut self) -> Self {
        self.required = true;
        self.created_by = CreatedBy::Init;
        self
    }
    const fn cdk(mut self) -> Self {
        self.created_by = CreatedBy::Cdk;
        self
    }
    const fn secret(mut self) -> Self {
        self.secret = true;
        self
    }
    const fn deprecated(mut self) -> Self {
        self.deprecated = true;
        self
    }
}

const LOG_LEVELS: &[&str] = &["NONE", "ERROR", "WARN", "INFO", "DEBUG"];
const EMAIL_PROVIDERS: &[&str] = &["none", "awsses", "smtp"];
const BOT_RUNTIMES: &[&str] = &["awslambda", "vmcontext", "fission"];

/// Every server key medplum-init knows, in the order of Medplum's "Server Config" page.
pub const SERVER_KEYS: &[ServerKey] = &[
    k("port", Kind::Integer).default("8103").required(),
    k("baseUrl", Kind::Url).required(),
    k("appBaseUrl", Kind::Url).required(),
    k("binaryStorage", Kind::String).required(),
    k("storageBaseUrl", Kind::Url).required(),
    // Medplum's page says "created by: cdk", but its own init registers the key and writes the id;
    // so does medplum-init.
    k("signingKeyId", Kind::String).required(),
    k("signingKey", Kind::String).required().secret(),
    k("signingKeyPassphrase", Kind::String).required().secret(),
    k("supportEmail", Kind::String).required(),
    k("logLevel", Kind::Enum(LOG_LEVELS)).default("INFO"),
    k("allowedOrigins", Kind::Csv),
    k("issuer", Kind::Url).default("baseUrl"),
    k("audience", Kind::Url),
    k("jwksUrl", Kind::Url).default("baseUrl + .well-known/jwks.json"),
    k("authorizeUrl", Kind::Url).default("baseUrl + oauth2/authorize"),
    k("tokenUrl", Kind::Url).default("baseUrl + oauth2/token"),
    k("userInfoUrl", Kind::Url).default("baseUrl + oauth2/userinfo"),
    k("introspectUrl", Kind::Url).default("baseUrl + oauth2/introspect"),
    k("registerUrl", Kind::Url).default("baseUrl + oauth2/register"),
    k("googleClientId", Kind::String),
    k("googleClientSecret", Kind::String).secret(),
    k("recaptchaSiteKey", Kind::String),
    k("recaptchaSecretKey", Kind::String).secret(),
    k("botLambdaRoleArn", Kind::String).cdk(),
    k("botLambdaLayerName", Kind::String).default("medplum-bot-layer"),
    k("database.ssl.ca", Kind::String),
    k("database.ssl.rejectUnauthorized", Kind::Boolean).default("true"),
    k("database.ssl.require", Kind::Boolean).default("false"),
    k("databaseProxyEndpoint", Kind::String).deprecated(),
    k("DatabaseSecrets", Kind::String).cdk(),
    k("readonlyDatabase.ssl.ca", Kind::String),
    k("readonlyDatabase.ssl.rejectUnauthorized", Kind::Boolean).default("true"),
    k("readonlyDatabase.ssl.require", Kind::Boolean).default("false"),
    k("readonlyDatabaseProxyEndpoint", Kind::String).deprecated(),
    // "Bring your own" secret ids the server also reads (pass 1 of its AWS loader).
    k("ReaderDatabaseSecrets", Kind::String),
    k("RedisSecrets", Kind::String).cdk(),
    k("CacheRedisSecrets", Kind::String),
    k("RateLimitRedisSecrets", Kind::String),
    k("PubSubRedisSecrets", Kind::String),
    k("BackgroundJobsRedisSecrets", Kind::String),
    k("logRequests", Kind::Boolean).default("false"),
    k("saveAuditEvents", Kind::Boolean).default("false"),
    k("logAuditEvents", Kind::Boolean).default("false"),
    k("auditEventLogGroup", Kind::String),
    k("auditEventLogStream", Kind::String),
    k("registerEnabled", Kind::Boolean).default("true"),
    k("mfaAuthenticatorWindow", Kind::Integer).default("1"),
    k("maxJsonSize", Kind::String).default("1mb"),
    k("maxBatchSize", Kind::String).default("50mb"),
    k("smtp", Kind::Json).secret(),
    k("emailProvider", Kind::Enum(EMAIL_PROVIDERS)).default("awsses"),
    k("bullmq", Kind::Json),
    k("awsRegion", Kind::String).default(US_EAST_1).cdk(),
    k("accurateCountThreshold", Kind::Integer).default("1000000"),
    k("maxSearchOffset", Kind::Integer).default("10000"),
    k("defaultBotRuntimeVersion", Kind::Enum(BOT_RUNTIMES)).default("awslambda"),
    k("defaultProjectFeatures", Kind::Json),
    k("defaultProjectSystemSetting", Kind::Json),
    k("maxBotLogLengthForResource", Kind::Integer).default("10240"),
    k("maxBotLogLengthForLogs", Kind::Integer).default("10240"),
    k("defaultRateLimit", Kind::Integer).default("60000"),
    k("defaultAuthRateLimit", Kind::Integer).default("160"),
    k("defaultFhirQuota", Kind::Integer).default("50000"),
    k("autoDownloadEnabled", Kind::Boolean).default("true"),
    k("redactAuditEvents", Kind::Boolean).default("false"),
    k("approvedSenderEmails", Kind::Csv),
    k("bcryptHashSalt", Kind::Integer).default("10"),
    k("introspectionEnabled", Kind::Boolean).default("true"),
    k("keepAliveTimeout", Kind::Integer).default("90000"),
    k("vmContextBotsEnabled", Kind::Boolean).default("false"),
    k("vmContextBaseUrl", Kind::Url),
    k("shutdownTimeoutMilliseconds", Kind::Integer).default("30000"),
    k("heartbeatMilliseconds", Kind::Integer).default("10000"),
    k("heartbeatEnabled", Kind::Boolean).default("false"),
    k("defaultSuperAdminEmail", Kind::String),
    k("defaultSuperAdminPassword", Kind::String).secret(),
    k("defaultSuperAdminClientId", Kind::String),
    k("defaultSuperAdminClientSecret", Kind::String).secret(),
    k("transactionAttempts", Kind::Integer).default("2"),
    k("transactionExpBackoffBaseDelayMs", Kind::Integer).default("50"),
    k("preCommitSubscriptionsEnabled", Kind::Boolean).default("false"),
    k("externalAuthProviders", Kind::Json),
    k("defaultOAuthClients", Kind::Json).secret(),
    k("mcpEnabled", Kind::Boolean).default("false"),
    k("fission", Kind::Json),
    k("fhirSearchMinLimit", Kind::Integer),
    k("fhirSearchDiscourageSeqScan", Kind::Boolean).default("false"),
    k("botCustomFunctionsEnabled", Kind::Boolean).default("false"),
    // Keys the server's loader knows beyond the docs page.
    k("allowProjectSmtp", Kind::Boolean).default("false"),
    k("rangeSearch", Kind::Boolean).default("false"),
    k("requireVerifiedEmailForProjectCreation", Kind::Boolean).default("false"),
    k("allowInsecureRestHookUrl", Kind::Boolean).default("false"),
    k("allowInsecureExternalAuthUrl", Kind::Boolean).default("false"),
    k("defaultLoginRateLimit", Kind::Integer),
    k("idleInTransactionLogThresholdMs", Kind::Integer).default("-1"),
    k("sseCustomerKey", Kind::String).secret(),
    k("mtlsCertHeader", Kind::String),
    k("base64BinaryMaxBytes", Kind::Integer).default("1048576"),
    k("inlineAttachmentsMaxTotalBytes", Kind::Integer).default("0"),
    k("rateLimitsEnabled", Kind::Boolean).default("true"),
    k("defaultMaxUserWebSocketSubscriptions", Kind::Integer).default("20"),
    k("asyncDelayScaling", Kind::Integer).default("5"),
    k("aiRealtimeTranscriptionUrl", Kind::String),
    k("cacheRedis", Kind::Json).secret(),
    k("rateLimitRedis", Kind::Json).secret(),
    k("pubSubRedis", Kind::Json).secret(),
    k("backgroundJobsRedis", Kind::Json).secret(),
];

pub fn lookup(key: &str) -> Option<&'static ServerKey> {
    SERVER_KEYS.iter().find(|k| k.key == key)
}

/// True for a parameter whose value must never be shown.
pub fn is_secret(key: &str) -> bool {
    lookup(key).is_some_and(|k| k.secret)
}

/// Names the CloudFormation stack creates as `AWS::SSM::Parameter`; a create fails when the name
/// already exists, so init must leave them alone.
pub fn stack_owned() -> impl Iterator<Item = &'static str> {
    SERVER_KEYS
        .iter()
        .filter(|k| k.created_by == CreatedBy::Cdk)
        .map(|k| k.key)
}

/// Parameter name for `key` in environment `env`: `/medplum/<env>/<key>`.
pub fn parameter_name(env: &str, key: &str) -> String {
    format!("{}{key}", parameter_path(env))
}

/// The path the server reads (non-recursively), with its trailing slash.
pub fn parameter_path(env: &str) -> String {
    format!("/medplum/{env}/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for k in SERVER_KEYS {
            assert!(seen.insert(k.key), "duplicate server key {}", k.key);
        }
    }

    #[test]
    fn stack_owned_names_match_medplum() {
        let mut owned: Vec<_> = stack_owned().collect();
        owned.sort();
        assert_eq!(
            owned,
            [
                "DatabaseSecrets",
                "RedisSecrets",
                "awsRegion",
                "botLambdaRoleArn"
            ]
        );
    }

    #[test]
    fn secrets_include_key_material() {
        assert!(is_secret("signingKey"));
        assert!(is_secret("signingKeyPassphrase"));
        assert!(!is_secret("signingKeyId"));
        assert_eq!(parameter_name("prod", "baseUrl"), "/medplum/prod/baseUrl");
    }

    #[test]
    fn required_keys_are_the_nine_init_writes() {
        let req: Vec<_> = SERVER_KEYS
            .iter()
            .filter(|k| k.required)
            .map(|k| k.key)
            .collect();
        assert_eq!(
            req,
            [
                "port",
                "baseUrl",
                "appBaseUrl",
                "binaryStorage",
                "storageBaseUrl",
                "signingKeyId",
                "signingKey",
                "signingKeyPassphrase",
                "supportEmail"
            ]
        );
    }
}
