//! The web app (`@medplum/app`), published natively: what Medplum's `medplum aws update-app`
//! does, without Node. The parts, in the order a publish runs them:
//!
//! - [`registry`]: which version (`--app-version`, the server image's tag, or the registry's
//!   `latest`) and its metadata (`dist.tarball`, `dist.integrity`), over [`http`];
//! - [`download`]: the tarball, streamed, size-capped, its sha512 checked before anything reads it;
//! - [`package`]: the tar.gz read in memory, refusing unsafe entries; only `package/dist/` is kept;
//! - [`site`]: the config's values put into the placeholders, content types and cache headers;
//! - [`publish`]: the app bucket and distribution from the stack, the uploads compared with what
//!   the bucket holds, assets first and `index.html` last, stale objects removed, one invalidation.
//!
//! No terminal here: progress goes out as [`Progress`] values for the command to draw.

pub mod download;
pub mod http;
pub mod package;
pub mod publish;
pub mod registry;
pub mod site;

use crate::aws::AwsError;
use crate::outcome::Outcome;

/// The npm package of Medplum's web app.
pub const PACKAGE: &str = "@medplum/app";
/// The public npm registry (`--npm-registry` overrides it: mirrors, tests).
pub const DEFAULT_REGISTRY: &str = "https://registry.npmjs.org";
/// The journal key of the last publish.
pub const JOURNAL_KEY: &str = "app";

/// What a publish reports while it works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Bytes of the tarball received so far, and the total when the server said it.
    Download { received: u64, total: Option<u64> },
    /// One object written to the bucket (`done` of `total`).
    Upload {
        key: String,
        done: usize,
        total: usize,
    },
    /// One stale object removed.
    Delete { key: String },
    /// The CloudFront invalidation's status (`InProgress`, `Completed`).
    Invalidation { id: String, status: String },
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("the npm registry at {url} failed: {message}")]
    Registry { url: String, message: String },
    #[error("{package}@{version} is not on the npm registry at {registry}")]
    NoSuchVersion {
        package: String,
        version: String,
        registry: String,
    },
    #[error("--npm-registry {0}: not an http:// or https:// URL")]
    BadRegistryUrl(String),
    #[error("the download of {url} is larger than {limit} bytes")]
    TooLarge { url: String, limit: u64 },
    #[error("the app package does not match its integrity: expected {expected}, got {actual}")]
    Integrity { expected: String, actual: String },
    #[error("the registry's metadata gives no sha512 integrity for the package ({0})")]
    NoIntegrity(String),
    #[error("the app package cannot be read: {0}")]
    Corrupt(String),
    #[error("the app package holds an unsafe entry `{entry}`: {why}")]
    UnsafeEntry { entry: String, why: &'static str },
    #[error("the app package has no package/dist/index.html")]
    NoIndex,
    #[error("--app-tarball {path}: {message}")]
    Tarball { path: String, message: String },
    #[error(
        "no web app bucket in the stacks {stacks} (a resource whose logical ID starts with FrontEndAppBucket)"
    )]
    NoBucket { stacks: String },
    #[error("the app's CloudFront invalidation {id} did not complete within {seconds}s")]
    InvalidationTimeout { id: String, seconds: u64 },
    #[error("interrupted")]
    Interrupted,
    #[error(transparent)]
    Aws(#[from] AwsError),
}

impl crate::error::Diagnostic for AppError {
    fn hint(&self) -> Option<String> {
        match self {
            AppError::Registry { .. } => Some(
                "check the network, or point --npm-registry at a mirror, or give the package with --app-tarball FILE".into(),
            ),
            AppError::NoSuchVersion { .. } => {
                Some("give an existing version with --app-version (`npm view @medplum/app versions`)".into())
            }
            AppError::BadRegistryUrl(_) => Some("e.g. --npm-registry https://registry.npmjs.org".into()),
            AppError::Integrity { .. } | AppError::NoIntegrity(_) => Some(
                "nothing was uploaded; the download or the registry is not trustworthy: try again, or use another registry".into(),
            ),
            AppError::UnsafeEntry { .. } | AppError::Corrupt(_) | AppError::NoIndex => {
                Some("nothing was uploaded; use the package as npm publishes it".into())
            }
            AppError::NoBucket { .. } => {
                Some("deploy the stacks first (`medplum-init deploy`)".into())
            }
            AppError::InvalidationTimeout { .. } => Some(
                "CloudFront goes on with it; the new version shows once it completes (or use --no-wait)".into(),
            ),
            AppError::Aws(e) => e.hint(),
            _ => None,
        }
    }

    fn outcome(&self) -> Outcome {
        match self {
            AppError::BadRegistryUrl(_) | AppError::Tarball { .. } => Outcome::Invalid,
            AppError::Interrupted => Outcome::Interrupted,
            AppError::Aws(e) => e.outcome(),
            _ => Outcome::Failed,
        }
    }
}
