//! One SDK configuration for every service: profile, region, endpoint override, retries and
//! timeouts.
//!
//! CloudFront and the app/storage certificates live in us-east-1 whatever the stack's region;
//! the helpers here pin those clients so no caller can get it wrong.
//!
//! Timeouts ([`AwsTimeouts`]): every call is bounded as a whole (`call`), and each attempt the
//! SDK's retries make is bounded more tightly (`attempt`), so an endpoint that accepts and never
//! answers costs one attempt's wait before the retry, and one call's wait before a clear error,
//! never five full attempts. Control-plane answers are small and quick; the one large upload
//! (the bot layer, up to 50 MB) sets its own longer limit on its request.

use aws_config::{BehaviorVersion, Region, SdkConfig, retry::RetryConfig, timeout::TimeoutConfig};
use std::time::Duration;

use crate::config::US_EAST_1;

/// Attempts per call, the first included (the SDK's standard retry mode: exponential backoff
/// with jitter for throttling, 5xx, dropped connections and attempt timeouts).
pub const MAX_ATTEMPTS: u32 = 5;

/// How long calls may take (`--aws-call-timeout`, `--aws-attempt-timeout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AwsTimeouts {
    /// One call, all its retries and their backoff included.
    pub call: Duration,
    /// One attempt of a call: connecting, sending, and reading the whole answer.
    pub attempt: Duration,
}

impl AwsTimeouts {
    pub const DEFAULT_CALL: Duration = Duration::from_secs(60);
    pub const DEFAULT_ATTEMPT: Duration = Duration::from_secs(15);
    const UPLOAD: Duration = Duration::from_secs(10 * 60);
    /// Never longer than an attempt; a TCP connect to a reachable endpoint takes milliseconds.
    const CONNECT: Duration = Duration::from_secs(10);

    /// The SDK's timeout settings for these limits.
    pub fn config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(Self::CONNECT.min(self.attempt))
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.call)
            .build()
    }

    /// For one large upload (the bot layer's zip, up to 50 MB): a single attempt may take the
    /// whole call, and the call at least [`Self::UPLOAD`], so a slow uplink is not cut off.
    pub fn upload_config(&self) -> TimeoutConfig {
        let call = self.call.max(Self::UPLOAD);
        TimeoutConfig::builder()
            .connect_timeout(Self::CONNECT.min(self.attempt))
            .operation_attempt_timeout(call)
            .operation_timeout(call)
            .build()
    }
}

impl Default for AwsTimeouts {
    fn default() -> Self {
        Self {
            call: Self::DEFAULT_CALL,
            attempt: Self::DEFAULT_ATTEMPT,
        }
    }
}

/// What the command line says about reaching AWS.
#[derive(Debug, Clone, Default)]
pub struct AwsSettings {
    pub profile: Option<String>,
    /// `--region`: default region for calls when the answers do not name one.
    pub region: Option<String>,
    /// `--endpoint-url` or `AWS_ENDPOINT_URL`: sends every service to this endpoint (an emulator).
    pub endpoint_url: Option<String>,
    pub timeouts: AwsTimeouts,
}

/// Clients for the stack's region, built from one loaded [`SdkConfig`].
#[derive(Clone, Debug)]
pub struct AwsClients {
    config: SdkConfig,
    region: String,
    endpoint_overridden: bool,
    timeouts: AwsTimeouts,
}

impl AwsClients {
    /// Loads credentials and settings through the default chain (environment, shared profiles,
    /// SSO, container and instance roles). Nothing is called yet.
    pub async fn load(settings: &AwsSettings, region: &str) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
            .timeout_config(settings.timeouts.config());
        if let Some(p) = &settings.profile {
            loader = loader.profile_name(p);
        }
        if let Some(url) = &settings.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let config = loader.load().await;
        let endpoint_overridden = config.endpoint_url().is_some();
        Self {
            config,
            region: region.to_string(),
            endpoint_overridden,
            timeouts: settings.timeouts,
        }
    }

    /// Clients from an already loaded configuration (tests pointing at an emulator, embedders
    /// with their own credential setup). The configuration's region is the stack's region.
    pub fn from_sdk_config(config: SdkConfig) -> Self {
        let region = config
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| US_EAST_1.to_string());
        let endpoint_overridden = config.endpoint_url().is_some();
        Self {
            config,
            region,
            endpoint_overridden,
            timeouts: AwsTimeouts::default(),
        }
    }

    /// The stack's region.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// True when calls go to an endpoint override instead of AWS.
    pub fn endpoint_overridden(&self) -> bool {
        self.endpoint_overridden
    }

    /// The limits every call has, unless a request sets its own (a large upload).
    pub fn timeouts(&self) -> AwsTimeouts {
        self.timeouts
    }

    /// The endpoint override, when there is one.
    pub fn endpoint_url(&self) -> Option<&str> {
        self.config.endpoint_url()
    }

    fn in_region(&self, region: &str) -> SdkConfig {
        self.config
            .to_builder()
            .region(Region::new(region.to_string()))
            .build()
    }

    pub fn sts(&self) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::new(&self.config)
    }

    /// ACM in `region`: the stack's region for the API certificate, us-east-1 for CloudFront's.
    pub fn acm(&self, region: &str) -> aws_sdk_acm::Client {
        aws_sdk_acm::Client::new(&self.in_region(region))
    }

    /// CloudFront is global; its API lives in us-east-1.
    pub fn cloudfront(&self) -> aws_sdk_cloudfront::Client {
        aws_sdk_cloudfront::Client::new(&self.in_region(US_EAST_1))
    }

    /// Parameter Store in the stack's region, where the server reads its config.
    pub fn ssm(&self) -> aws_sdk_ssm::Client {
        aws_sdk_ssm::Client::new(&self.config)
    }

    pub fn ssm_in(&self, region: &str) -> aws_sdk_ssm::Client {
        aws_sdk_ssm::Client::new(&self.in_region(region))
    }

    /// SES in the stack's region: the server sends from `awsRegion`.
    pub fn sesv2(&self) -> aws_sdk_sesv2::Client {
        aws_sdk_sesv2::Client::new(&self.config)
    }

    /// Route53 is global.
    pub fn route53(&self) -> aws_sdk_route53::Client {
        aws_sdk_route53::Client::new(&self.in_region(US_EAST_1))
    }

    pub fn s3(&self, region: &str) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(&self.in_region(region))
            // Emulators answer on one host name; virtual-hosted buckets would need DNS for each.
            .force_path_style(self.endpoint_overridden)
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    /// EC2 in `region`: the lookup of an existing VPC (`vpcId`), read calls only.
    pub fn ec2(&self, region: &str) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::new(&self.in_region(region))
    }

    /// ECS in `region`: the deploy reads a stalled service's events and stopped tasks.
    pub fn ecs(&self, region: &str) -> aws_sdk_ecs::Client {
        aws_sdk_ecs::Client::new(&self.in_region(region))
    }

    pub fn lambda(&self) -> aws_sdk_lambda::Client {
        aws_sdk_lambda::Client::new(&self.config)
    }

    pub fn cloudformation(&self, region: &str) -> aws_sdk_cloudformation::Client {
        aws_sdk_cloudformation::Client::new(&self.in_region(region))
    }
}
