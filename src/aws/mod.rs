//! AWS access: the only module that builds SDK clients, and the mapping of SDK errors to
//! actionable hints (the IAM action that was denied, missing credentials, throttling).

pub mod clients;
pub mod error;
pub mod s3;

pub use clients::{AwsClients, AwsSettings, AwsTimeouts};
pub use error::{AwsError, AwsErrorKind};
