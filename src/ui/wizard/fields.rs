//! Every question of the guided install: its section, label and kind, its default (which may
//! follow earlier answers: `api.<domain>` follows the domain), its choices, when it is asked at
//! all, and its check. Checks are the answers file's own validators, so a value accepted here is
//! accepted headless.

use super::{Draft, Known, Section};
use crate::answers::DEFAULT_SERVER_IMAGE;
use crate::config::US_EAST_1;
use crate::config::validators::{self as v, Check};
use crate::config::{cloudtrail, derive};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FieldId {
    Name,
    Region,
    StackName,
    DomainName,
    Zone,
    ApiDomain,
    AppDomain,
    StorageDomain,
    StorageBucket,
    MaxAzs,
    RdsInstances,
    RdsInstanceType,
    ServerCount,
    ServerCpu,
    ServerMemory,
    ServerImage,
    Advanced,
    RdsProxy,
    RdsPersistentGroups,
    RdsIdsSuffix,
    CloudTrail,
    TrailLogGroup,
    TrailCreate,
    AlarmTopic,
    VpcId,
    CertApi,
    CertApp,
    CertStorage,
    CertDnsRecords,
    CertWait,
    KeyMode,
    SigningKeyId,
    SupportEmail,
    EmailIdentity,
    LbLogging,
    LbLoggingBucket,
    CreateLoggingBucket,
    RegisterEnabled,
    ClientId,
    GoogleClientId,
    LogLevel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Typed text, checked as you type.
    Text,
    /// One of a list.
    Choice,
    /// Yes or no; the value is "true" or "false".
    Toggle,
}

/// One choice of a [`Kind::Choice`] field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opt {
    /// What goes into the answers.
    pub value: String,
    pub label: String,
    /// A short note: cost, size, expiry.
    pub hint: String,
}

pub(super) fn opt(
    value: impl Into<String>,
    label: impl Into<String>,
    hint: impl Into<String>,
) -> Opt {
    Opt {
        value: value.into(),
        label: label.into(),
        hint: hint.into(),
    }
}

/// Monthly on-demand cost of one Fargate task (Linux/x86, us-east-1 list prices), for hints.
pub fn fargate_monthly_usd(cpu: u32, memory_mib: u32) -> f64 {
    const VCPU_HOUR: f64 = 0.04048;
    const GB_HOUR: f64 = 0.004445;
    (cpu as f64 / 1024.0 * VCPU_HOUR + memory_mib as f64 / 1024.0 * GB_HOUR) * 730.0
}

/// A NAT gateway's monthly charge before data (us-east-1 list price).
pub const NAT_MONTHLY_USD: f64 = 32.85;

impl FieldId {
    pub const ALL: [FieldId; 41] = [
        FieldId::Name,
        FieldId::Region,
        FieldId::StackName,
        FieldId::DomainName,
        FieldId::Zone,
        FieldId::ApiDomain,
        FieldId::AppDomain,
        FieldId::StorageDomain,
        FieldId::StorageBucket,
        FieldId::MaxAzs,
        FieldId::RdsInstances,
        FieldId::RdsInstanceType,
        FieldId::ServerCount,
        FieldId::ServerCpu,
        FieldId::ServerMemory,
        FieldId::ServerImage,
        FieldId::Advanced,
        FieldId::RdsProxy,
        FieldId::RdsPersistentGroups,
        FieldId::RdsIdsSuffix,
        FieldId::CloudTrail,
        FieldId::TrailLogGroup,
        FieldId::TrailCreate,
        FieldId::AlarmTopic,
        FieldId::VpcId,
        FieldId::CertApi,
        FieldId::CertApp,
        FieldId::CertStorage,
        FieldId::CertDnsRecords,
        FieldId::CertWait,
        FieldId::KeyMode,
        FieldId::SigningKeyId,
        FieldId::SupportEmail,
        FieldId::EmailIdentity,
        FieldId::LbLogging,
        FieldId::LbLoggingBucket,
        FieldId::CreateLoggingBucket,
        FieldId::RegisterEnabled,
        FieldId::ClientId,
        FieldId::GoogleClientId,
        FieldId::LogLevel,
    ];

    /// The answers-file key this field sets (`zone` and `signingKey.mode` are the guided
    /// install's own and map to several keys).
    pub fn key(self) -> &'static str {
        use FieldId::*;
        match self {
            Name => "name",
            Region => "region",
            StackName => "stackName",
            DomainName => "domainName",
            Zone => "zone",
            ApiDomain => "apiDomainName",
            AppDomain => "appDomainName",
            StorageDomain => "storageDomainName",
            StorageBucket => "storageBucketName",
            MaxAzs => "maxAzs",
            RdsInstances => "rdsInstances",
            RdsInstanceType => "rdsInstanceType",
            ServerCount => "desiredServerCount",
            ServerCpu => "serverCpu",
            ServerMemory => "serverMemory",
            ServerImage => "serverImage",
            // The guided install's own: it only opens the questions below.
            Advanced => "advanced",
            RdsProxy => "rdsProxyEnabled",
            RdsPersistentGroups => "rdsPersistentParameterGroups",
            RdsIdsSuffix => "rdsIdsMajorVersionSuffix",
            // The guided install's own: the table below is written only when it is on.
            CloudTrail => "cloudTrail",
            TrailLogGroup => "cloudTrailAlarms.logGroupName",
            TrailCreate => "cloudTrailAlarms.logGroupCreate",
            // Written as snsTopicArn when the answer is an ARN (see Draft::to_toml).
            AlarmTopic => "cloudTrailAlarms.snsTopicName",
            VpcId => "vpcId",
            CertApi => "certificates.api",
            CertApp => "certificates.app",
            CertStorage => "certificates.storage",
            CertDnsRecords => "certificates.dns_records",
            CertWait => "certificates.wait",
            KeyMode => "signingKey.mode",
            SigningKeyId => "signingKeyId",
            SupportEmail => "server.supportEmail",
            EmailIdentity => "email.identity",
            LbLogging => "loadBalancerLoggingEnabled",
            LbLoggingBucket => "loadBalancerLoggingBucket",
            CreateLoggingBucket => "logging.create_bucket",
            RegisterEnabled => "server.registerEnabled",
            ClientId => "clientId",
            GoogleClientId => "googleClientId",
            LogLevel => "server.logLevel",
        }
    }

    /// The field an answers error is about.
    pub fn from_answer_key(key: &str) -> Option<FieldId> {
        match key {
            "hostedZoneName" | "skipDns" => Some(FieldId::Zone),
            "apiSslCertArn" => Some(FieldId::CertApi),
            "appSslCertArn" => Some(FieldId::CertApp),
            "storageSslCertArn" => Some(FieldId::CertStorage),
            "cloudTrailAlarms" => Some(FieldId::CloudTrail),
            "cloudTrailAlarms.snsTopicArn" => Some(FieldId::AlarmTopic),
            _ => FieldId::ALL.into_iter().find(|f| f.key() == key),
        }
    }

    pub fn section(self) -> Section {
        use FieldId::*;
        match self {
            Name | Region | StackName => Section::Environment,
            DomainName | Zone | ApiDomain | AppDomain | StorageDomain | StorageBucket => {
                Section::Domains
            }
            MaxAzs | RdsInstances | RdsInstanceType | ServerCount | ServerCpu | ServerMemory
            | ServerImage | Advanced | RdsProxy | RdsPersistentGroups | RdsIdsSuffix
            | CloudTrail | TrailLogGroup | TrailCreate | AlarmTopic | VpcId => Section::Capacity,
            CertApi | CertApp | CertStorage | CertDnsRecords | CertWait => Section::Certificates,
            KeyMode | SigningKeyId => Section::SigningKey,
            SupportEmail | EmailIdentity => Section::Email,
            LbLogging | LbLoggingBucket | CreateLoggingBucket => Section::Logging,
            RegisterEnabled | ClientId | GoogleClientId | LogLevel => Section::Parameters,
        }
    }

    pub fn label(self) -> &'static str {
        use FieldId::*;
        match self {
            Name => "Environment name",
            Region => "AWS region",
            StackName => "Stack name",
            DomainName => "Base domain",
            Zone => "Hosted zone",
            ApiDomain => "API domain",
            AppDomain => "App domain",
            StorageDomain => "Storage domain",
            StorageBucket => "Storage bucket",
            MaxAzs => "Availability zones",
            RdsInstances => "Database instances",
            RdsInstanceType => "Database class",
            ServerCount => "Server tasks",
            ServerCpu => "Server CPU",
            ServerMemory => "Server memory",
            ServerImage => "Server image",
            Advanced => "Advanced options",
            RdsProxy => "RDS Proxy",
            RdsPersistentGroups => "Persistent groups",
            RdsIdsSuffix => "Version in IDs",
            CloudTrail => "CloudTrail alarms",
            TrailLogGroup => "Trail log group",
            TrailCreate => "Create the trail",
            AlarmTopic => "Alarm topic",
            VpcId => "Existing VPC",
            CertApi => "API certificate",
            CertApp => "App certificate",
            CertStorage => "Storage certificate",
            CertDnsRecords => "Validation records",
            CertWait => "Wait until issued",
            KeyMode => "Signing key",
            SigningKeyId => "CloudFront key id",
            SupportEmail => "Support email",
            EmailIdentity => "SES identity",
            LbLogging => "Load balancer logs",
            LbLoggingBucket => "Log bucket",
            CreateLoggingBucket => "Create the bucket",
            RegisterEnabled => "Open registration",
            ClientId => "App client id",
            GoogleClientId => "Google client id",
            LogLevel => "Server log level",
        }
    }

    pub fn kind(self) -> Kind {
        use FieldId::*;
        match self {
            Name | StackName | DomainName | ApiDomain | AppDomain | StorageDomain
            | StorageBucket | ServerImage | SigningKeyId | SupportEmail | LbLoggingBucket
            | ClientId | GoogleClientId | TrailLogGroup | AlarmTopic | VpcId => Kind::Text,
            CertDnsRecords | CertWait | LbLogging | CreateLoggingBucket | RegisterEnabled
            | Advanced | RdsProxy | RdsPersistentGroups | RdsIdsSuffix | CloudTrail
            | TrailCreate => Kind::Toggle,
            _ => Kind::Choice,
        }
    }

    /// The fields of a section, in order.
    pub fn of(section: Section) -> impl Iterator<Item = FieldId> {
        FieldId::ALL
            .into_iter()
            .filter(move |f| f.section() == section)
    }

    /// Whether the question is asked, given earlier answers.
    pub fn visible(self, d: &Draft, k: &Known) -> bool {
        use FieldId::*;
        match self {
            SigningKeyId => d.value(KeyMode, k) == "existing",
            LbLoggingBucket | CreateLoggingBucket => d.value(LbLogging, k) == "true",
            CertDnsRecords => d.value(Zone, k) != "skip",
            RdsProxy | RdsPersistentGroups | CloudTrail | VpcId => d.value(Advanced, k) == "true",
            TrailLogGroup | TrailCreate | AlarmTopic => {
                d.value(Advanced, k) == "true" && d.value(CloudTrail, k) == "true"
            }
            // Medplum's CDK refuses the suffix without the persistent groups.
            RdsIdsSuffix => {
                d.value(Advanced, k) == "true" && d.value(RdsPersistentGroups, k) == "true"
            }
            _ => true,
        }
    }

    /// The value used when the user has not answered.
    pub fn default(self, d: &Draft, k: &Known) -> String {
        use FieldId::*;
        let domain = || d.value(DomainName, k);
        match self {
            Name => "staging".into(),
            Region => k.default_region.clone().unwrap_or_else(|| US_EAST_1.into()),
            StackName => {
                let n = d.value(Name, k);
                if v::env_name(&n).is_ok() {
                    derive::default_stack_name(&n)
                } else {
                    String::new()
                }
            }
            DomainName => k
                .zones
                .as_ref()
                .and_then(|z| z.first())
                .map(|z| z.name.clone())
                .unwrap_or_default(),
            Zone => match k.zone_for(&domain()) {
                Some(z) => format!("zone:{}", z.name),
                None => "auto".into(),
            },
            ApiDomain => sub("api", &domain()),
            AppDomain => sub("app", &domain()),
            StorageDomain => sub("storage", &domain()),
            StorageBucket => d.value(StorageDomain, k),
            MaxAzs => "2".into(),
            RdsInstances => "1".into(),
            RdsInstanceType => String::new(),
            ServerCount => "1".into(),
            ServerCpu => "256".into(),
            ServerMemory => {
                let cpu = d.value(ServerCpu, k).parse().unwrap_or(256);
                v::fargate_memory_for(cpu)
                    .first()
                    .map(u32::to_string)
                    .unwrap_or_else(|| "512".into())
            }
            ServerImage => DEFAULT_SERVER_IMAGE.into(),
            Advanced | RdsProxy | RdsPersistentGroups | RdsIdsSuffix | CloudTrail => "false".into(),
            TrailLogGroup => format!("medplum-{}-cloudtrail", d.value(Name, k)),
            TrailCreate => "true".into(),
            AlarmTopic => format!("medplum-{}-alarms", d.value(Name, k)),
            CertApi | CertApp | CertStorage => "auto".into(),
            CertDnsRecords => "true".into(),
            // Waiting only ends when DNS validation can succeed: when the records go to a zone
            // medplum-init can write.
            CertWait => {
                let dns = d.value(Zone, k) != "skip" && d.value(CertDnsRecords, k) == "true";
                (dns && k.zone_for(&domain()).is_some()).to_string()
            }
            KeyMode => "generate".into(),
            SigningKeyId => String::new(),
            SupportEmail => {
                let dom = domain();
                if v::domain(&dom).is_err() {
                    String::new()
                } else {
                    format!("support@{dom}")
                }
            }
            EmailIdentity => "address".into(),
            LbLogging => "false".into(),
            LbLoggingBucket => {
                let env = d.value(Name, k);
                match &k.caller {
                    Some(c) if !c.account.is_empty() => {
                        format!("medplum-{env}-logs-{}", c.account)
                    }
                    _ => format!("medplum-{env}-logs"),
                }
            }
            CreateLoggingBucket => "true".into(),
            RegisterEnabled => "true".into(),
            ClientId | GoogleClientId | LogLevel | VpcId => String::new(),
        }
    }

    /// Whether the answers file leaves this value out when it equals the default: settings
    /// whose default is the server's (or the CDK's) own, and optional ones left empty, so
    /// nothing is written for them. Not `registerEnabled`: the server's default (open) is not
    /// the app's (register page hidden), so the answer is written for both to agree.
    pub fn omit_when_default(self) -> bool {
        matches!(
            self,
            FieldId::LogLevel
                | FieldId::RdsInstanceType
                | FieldId::ClientId
                | FieldId::GoogleClientId
                | FieldId::RdsProxy
                | FieldId::RdsPersistentGroups
                | FieldId::RdsIdsSuffix
                | FieldId::VpcId
        )
    }

    /// For the certificate questions: the name the certificate must cover and the region it
    /// must be in.
    pub fn certificate_target(self, d: &Draft, k: &Known) -> (String, String) {
        match self {
            FieldId::CertApi => (d.value(FieldId::ApiDomain, k), d.value(FieldId::Region, k)),
            FieldId::CertApp => (d.value(FieldId::AppDomain, k), US_EAST_1.into()),
            _ => (d.value(FieldId::StorageDomain, k), US_EAST_1.into()),
        }
    }

    /// Checks one value, with the answers file's validators.
    pub fn check(self, value: &str, d: &Draft, k: &Known) -> Check {
        use FieldId::*;
        match self.kind() {
            Kind::Toggle => {
                return if value == "true" || value == "false" {
                    Ok(())
                } else {
                    Err(("answer yes or no".into(), "press y or n".into()))
                };
            }
            Kind::Choice => {
                let opts = self.options(d, k);
                let custom_arn =
                    matches!(self, CertApi | CertApp | CertStorage) && value.starts_with("arn:");
                if !custom_arn && !opts.iter().any(|o| o.value == value) {
                    return Err((
                        format!("'{value}' is not one of the choices"),
                        "pick one from the list".into(),
                    ));
                }
            }
            Kind::Text => {}
        }
        let required = |s: &str| -> Check {
            if s.is_empty() {
                Err(("this answer is required".into(), "type a value".into()))
            } else {
                Ok(())
            }
        };
        match self {
            Name => required(value).and_then(|_| v::env_name(value)),
            StackName => v::stack_name(value),
            DomainName | ApiDomain | AppDomain | StorageDomain => {
                required(value).and_then(|_| v::domain(value))
            }
            StorageBucket | LbLoggingBucket => v::bucket_name(value),
            ServerImage => v::image(value),
            SigningKeyId => v::cloudfront_key_id(value),
            SupportEmail => required(value).and_then(|_| v::email(value)),
            TrailLogGroup => required(value).and_then(|_| cloudtrail::check_log_group(value)),
            AlarmTopic | VpcId if value.is_empty() => Ok(()),
            VpcId => v::aws_id(value, "vpc"),
            AlarmTopic => cloudtrail::check_topic(value),
            ClientId | GoogleClientId if value.is_empty() => Ok(()),
            ClientId => v::fhir_id(value),
            GoogleClientId => v::app_token(value, v::GOOGLE_CLIENT_ID_EXAMPLE),
            ServerMemory => {
                let cpu = d.value(ServerCpu, k).parse().unwrap_or(0);
                v::fargate(cpu, value.parse().unwrap_or(0))
            }
            CertApi | CertApp | CertStorage if value.starts_with("arn:") => {
                let (_, region) = self.certificate_target(d, k);
                let why = if self == CertApi {
                    "the API load balancer is in the stack's region"
                } else {
                    "CloudFront only uses certificates from us-east-1"
                };
                v::acm_arn(value, &region, why)
            }
            _ => Ok(()),
        }
    }
}

fn sub(prefix: &str, domain: &str) -> String {
    // Only a valid domain yields defaults: a half-typed one would only produce more errors.
    if v::domain(domain).is_err() {
        String::new()
    } else {
        format!("{prefix}.{domain}")
    }
}

/// `arn:aws:acm:us-east-1:123456789012:certificate/abcd…` → `certificate/abcd…`.
pub fn short_arn(arn: &str) -> String {
    arn.rsplit(':').next().unwrap_or(arn).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_has_a_section_and_known_key() {
        for f in FieldId::ALL {
            assert_eq!(FieldId::from_answer_key(f.key()), Some(f), "{f:?}");
            assert!(f.section().is_question());
        }
        assert_eq!(
            FieldId::from_answer_key("hostedZoneName"),
            Some(FieldId::Zone)
        );
    }

    #[test]
    fn memory_choices_follow_cpu_and_are_valid() {
        let k = Known::default();
        for cpu in v::FARGATE_CPUS {
            let mut d = Draft::default();
            d.set(FieldId::ServerCpu, cpu.to_string());
            let opts = FieldId::ServerMemory.options(&d, &k);
            assert!(!opts.is_empty());
            for o in opts {
                assert!(FieldId::ServerMemory.check(&o.value, &d, &k).is_ok());
            }
            let dflt = FieldId::ServerMemory.default(&d, &k);
            assert!(v::fargate(*cpu, dflt.parse().unwrap()).is_ok());
        }
    }

    #[test]
    fn defaults_follow_the_domain() {
        let k = Known::default();
        let mut d = Draft::default();
        d.set(FieldId::DomainName, "example.org".into());
        assert_eq!(d.value(FieldId::ApiDomain, &k), "api.example.org");
        assert_eq!(d.value(FieldId::StorageBucket, &k), "storage.example.org");
        d.set(FieldId::StorageDomain, "files.example.org".into());
        assert_eq!(d.value(FieldId::StorageBucket, &k), "files.example.org");
        assert_eq!(d.value(FieldId::SupportEmail, &k), "support@example.org");
        assert_eq!(d.value(FieldId::StackName, &k), "MedplumStaging");
    }

    #[test]
    fn checks_are_the_answers_validators() {
        let k = Known::default();
        let d = Draft::default();
        let e = FieldId::DomainName
            .check("Example.com", &d, &k)
            .unwrap_err();
        assert!(e.0.contains("upper-case"), "{e:?}");
        assert!(FieldId::Name.check("", &d, &k).is_err());
        assert!(FieldId::SupportEmail.check("a@b.co", &d, &k).is_ok());
        assert!(FieldId::MaxAzs.check("5", &d, &k).is_err());
        assert!(
            FieldId::CertApp
                .check("arn:aws:acm:eu-west-1:123456789012:certificate/x", &d, &k)
                .is_err()
        );
    }

    #[test]
    fn costs_are_plausible() {
        let c = fargate_monthly_usd(256, 512);
        assert!((8.0..10.0).contains(&c), "{c}");
        assert!(super::super::choices::nat_hint(2).contains("$66"));
    }
}
