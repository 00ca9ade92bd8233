//! SDK errors turned into something a user can act on.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsErrorKind {
    AccessDenied,
    NoCredentials,
    ExpiredCredentials,
    Throttled,
    NotFound,
    AlreadyExists,
    Network,
    Other,
}

/// A failed AWS call: which one, what AWS said, and what kind of failure it was.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{service}:{operation} failed: {message}")]
pub struct AwsError {
    /// IAM service prefix (`acm`, `cloudfront`, `ssm`, `ses`, ...).
    pub service: String,
    pub operation: String,
    pub code: Option<String>,
    pub message: String,
    pub kind: AwsErrorKind,
}

impl AwsError {
    pub fn from_sdk<E, R>(service: &str, operation: &str, err: &SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let (code, message, kind) = match err {
            SdkError::ServiceError(se) => {
                let e = se.err();
                let code = e.code().map(str::to_string);
                let msg = e
                    .message()
                    .map(str::to_string)
                    .unwrap_or_else(|| code.clone().unwrap_or_else(|| "service error".into()));
                let kind = classify(code.as_deref().unwrap_or(""));
                (code, msg, kind)
            }
            SdkError::DispatchFailure(df) => {
                let text = format!("{df:?}");
                if text.contains("credentials") || text.contains("Credentials") {
                    (
                        None,
                        "no AWS credentials were found".into(),
                        AwsErrorKind::NoCredentials,
                    )
                } else {
                    (
                        None,
                        "could not reach the AWS endpoint".to_string(),
                        AwsErrorKind::Network,
                    )
                }
            }
            SdkError::TimeoutError(_) => (None, "the call timed out".into(), AwsErrorKind::Network),
            SdkError::ResponseError(_) => (
                None,
                "AWS sent a response that could not be read".into(),
                AwsErrorKind::Other,
            ),
            SdkError::ConstructionFailure(_) => {
                let text = std::error::Error::source(err)
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| err.to_string());
                let kind = if text.to_lowercase().contains("credential") {
                    AwsErrorKind::NoCredentials
                } else {
                    AwsErrorKind::Other
                };
                (None, text, kind)
            }
            _ => (None, err.to_string(), AwsErrorKind::Other),
        };
        // The credential chain reports "no credentials" as a dispatch failure with a source.
        let full = error_chain(err);
        let kind = if kind == AwsErrorKind::Network && full.to_lowercase().contains("credential") {
            AwsErrorKind::NoCredentials
        } else {
            kind
        };
        let message = if kind == AwsErrorKind::Network {
            format!("{message}: {full}")
        } else {
            message
        };
        Self {
            service: service.into(),
            operation: operation.into(),
            code,
            message,
            kind,
        }
    }

    /// A not-found error a caller can treat as "absent".
    pub fn is_not_found(&self) -> bool {
        self.kind == AwsErrorKind::NotFound
    }

    /// The IAM action this call needs, e.g. `acm:RequestCertificate`.
    pub fn action(&self) -> String {
        format!("{}:{}", self.service, self.operation)
    }

    pub fn hint(&self) -> Option<String> {
        match self.kind {
            AwsErrorKind::AccessDenied => Some(format!(
                "the credentials in use may not call {}; grant that action to this identity (check with `aws sts get-caller-identity`), then run the same command again to resume",
                self.action()
            )),
            AwsErrorKind::NoCredentials => Some(
                "set AWS credentials: `aws configure`, `aws sso login --profile NAME` with --profile NAME, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY".into(),
            ),
            AwsErrorKind::ExpiredCredentials => Some("the session has expired: log in again (e.g. `aws sso login`) and re-run; finished work is kept".into()),
            AwsErrorKind::Throttled => Some("AWS kept throttling after retries; wait a minute and re-run, finished work is kept".into()),
            AwsErrorKind::Network => Some("check the network, proxy settings and --endpoint-url; then re-run, finished work is kept".into()),
            _ => None,
        }
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut cur = err.source();
    while let Some(e) = cur {
        parts.push(e.to_string());
        cur = e.source();
    }
    parts.join(": ")
}

fn classify(code: &str) -> AwsErrorKind {
    match code {
        "AccessDenied"
        | "AccessDeniedException"
        | "UnauthorizedOperation"
        | "AuthorizationError"
        | "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "SignatureDoesNotMatch"
        | "NotAuthorized"
        | "AuthFailure" => AwsErrorKind::AccessDenied,
        "ExpiredToken" | "ExpiredTokenException" | "RequestExpired" => {
            AwsErrorKind::ExpiredCredentials
        }
        "Throttling"
        | "ThrottlingException"
        | "TooManyRequestsException"
        | "RequestLimitExceeded"
        | "SlowDown"
        | "PriorRequestNotComplete" => AwsErrorKind::Throttled,
        c if c.contains("NotFound") || c.starts_with("NoSuch") || c == "ParameterNotFound" => {
            AwsErrorKind::NotFound
        }
        c if c.contains("AlreadyExists") || c == "BucketAlreadyOwnedByYou" => {
            AwsErrorKind::AlreadyExists
        }
        _ => AwsErrorKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_classified() {
        assert_eq!(
            classify("AccessDeniedException"),
            AwsErrorKind::AccessDenied
        );
        assert_eq!(classify("ParameterNotFound"), AwsErrorKind::NotFound);
        assert_eq!(classify("NoSuchPublicKey"), AwsErrorKind::NotFound);
        assert_eq!(
            classify("PublicKeyAlreadyExists"),
            AwsErrorKind::AlreadyExists
        );
        assert_eq!(classify("ThrottlingException"), AwsErrorKind::Throttled);
        assert_eq!(classify("ValidationException"), AwsErrorKind::Other);
    }

    #[test]
    fn denied_hint_names_the_action() {
        let e = AwsError {
            service: "acm".into(),
            operation: "RequestCertificate".into(),
            code: Some("AccessDeniedException".into()),
            message: "no".into(),
            kind: AwsErrorKind::AccessDenied,
        };
        assert!(e.hint().unwrap().contains("acm:RequestCertificate"));
    }
}
