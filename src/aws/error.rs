//! SDK errors turned into something a user can act on.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
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
    /// No answer within `--aws-attempt-timeout` on every attempt, or `--aws-call-timeout` in all.
    TimedOut,
    /// Ctrl-C while the call was waiting: it was abandoned, not refused.
    Cancelled,
    Other,
}

/// A failed AWS call: which one, what AWS said, and what kind of failure it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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
    pub fn from_sdk<E>(service: &str, operation: &str, err: &SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let (code, message, kind) = match err {
            SdkError::ServiceError(se) => {
                let e = se.err();
                let raw = se.raw();
                let status = raw.status().as_u16();
                // An error body in another protocol than the service's (a proxy's XML, an
                // emulator's) leaves the SDK without a code; read it from the body instead.
                let body = raw
                    .body()
                    .bytes()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default();
                let code = e
                    .code()
                    .map(str::to_string)
                    .or_else(|| xml_tag(&body, "Code"));
                let msg = e
                    .message()
                    .map(str::to_string)
                    .or_else(|| xml_tag(&body, "Message"))
                    .unwrap_or_else(|| code.clone().unwrap_or_else(|| format!("HTTP {status}")));
                let mut kind = classify(code.as_deref().unwrap_or(""));
                if kind == AwsErrorKind::Other && code.is_none() {
                    kind = match status {
                        401 | 403 => AwsErrorKind::AccessDenied,
                        404 => AwsErrorKind::NotFound,
                        429 => AwsErrorKind::Throttled,
                        _ => AwsErrorKind::Other,
                    };
                }
                (code, msg, kind)
            }
            SdkError::DispatchFailure(_) => {
                let chain = error_chain(err);
                if is_missing_credentials(&chain) {
                    (
                        None,
                        "no AWS credentials were found".to_string(),
                        AwsErrorKind::NoCredentials,
                    )
                } else {
                    (
                        None,
                        format!("could not reach the AWS endpoint: {chain}"),
                        AwsErrorKind::Network,
                    )
                }
            }
            // The SDK says which limit and how long: "operation timeout (all attempts including
            // retries) occurred after 60s".
            SdkError::TimeoutError(_) => (
                None,
                match std::error::Error::source(err) {
                    Some(why) => format!("no answer in time: {}", error_chain(why)),
                    None => "no answer in time".into(),
                },
                AwsErrorKind::TimedOut,
            ),
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
        Self {
            service: service.into(),
            operation: operation.into(),
            code,
            message,
            kind,
        }
    }

    /// The call was abandoned because the run was interrupted (Ctrl-C) while it waited.
    pub fn cancelled(service: &str, operation: &str) -> Self {
        Self {
            service: service.into(),
            operation: operation.into(),
            code: None,
            message: "interrupted while waiting for the answer".into(),
            kind: AwsErrorKind::Cancelled,
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.kind == AwsErrorKind::Cancelled
    }

    /// A not-found error a caller can treat as "absent".
    pub fn is_not_found(&self) -> bool {
        self.kind == AwsErrorKind::NotFound
    }

    /// The IAM action this call needs, e.g. `acm:RequestCertificate`.
    pub fn action(&self) -> String {
        format!("{}:{}", self.service, self.operation)
    }
}

impl crate::error::Diagnostic for AwsError {
    fn hint(&self) -> Option<String> {
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
            AwsErrorKind::TimedOut => Some("AWS (or --endpoint-url) did not answer in time: check the network, proxy settings and --endpoint-url, or allow longer with --aws-call-timeout / --aws-attempt-timeout; then re-run, finished work is kept".into()),
            AwsErrorKind::Cancelled => Some("run the same command again to resume; finished work is kept".into()),
            _ => None,
        }
    }
}

/// The text of the first `<tag>…</tag>` in an XML body.
fn xml_tag(body: &str, tag: &str) -> Option<String> {
    let start = body.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = body[start..].find(&format!("</{tag}>"))? + start;
    Some(body[start..end].trim().to_string()).filter(|s| !s.is_empty())
}

/// The credential chain's own words when it finds nothing (or a provider fails to load).
fn is_missing_credentials(chain: &str) -> bool {
    let c = chain.to_lowercase();
    [
        "no providers in chain provided credentials",
        "the credential provider was not enabled",
        "failed to load credentials",
        "no credentials",
    ]
    .iter()
    .any(|p| c.contains(p))
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
    use crate::error::Diagnostic;

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
    fn missing_credentials_are_told_apart_from_network_errors() {
        assert!(is_missing_credentials(
            "dispatch failure: other: the credential provider was not enabled: no providers in chain provided credentials"
        ));
        assert!(!is_missing_credentials(
            "dispatch failure: io error: client error (Connect): tcp connect error: Connection refused (os error 111)"
        ));
    }

    #[test]
    fn xml_error_bodies_are_read() {
        let body = "<ErrorResponse><Errors><Error><Code>AccessDenied</Code><Message>User: x is not authorized</Message></Error></Errors></ErrorResponse>";
        assert_eq!(xml_tag(body, "Code").as_deref(), Some("AccessDenied"));
        assert_eq!(
            xml_tag(body, "Message").as_deref(),
            Some("User: x is not authorized")
        );
        assert_eq!(xml_tag("{}", "Code"), None);
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
