//! The seam between the deploy runtime and CloudFormation: plain data types for stacks, events
//! and change sets, the two traits the runtime is written against ([`StackEventsSource`] for the
//! monitor, [`CloudFormation`] for the deployer), and their implementation over the AWS SDK.
//!
//! Tests drive the same runtime with recorded event streams through these traits, which is how
//! live progress, failures, rollbacks and throttling are tested: moto executes change sets
//! synchronously and reports stack-level events only.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_cloudformation::types::{
    Capability, ChangeSetType, RequiresRecreation, ResourceAttribute, Tag,
};
use serde::{Deserialize, Serialize};

use super::changeset::{ChangeAction, ChangeSetKind, PropertyChange, Replacement, ResourceChange};
use super::clock::EpochMs;
use super::staging::TemplateSource;
use crate::aws::{AwsError, AwsErrorKind};

/// The resource type of a stack's own row in its event stream.
pub const STACK_TYPE: &str = "AWS::CloudFormation::Stack";

/// One entry of DescribeStackEvents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackEventRecord {
    pub event_id: String,
    pub stack_id: String,
    pub stack_name: String,
    pub logical_id: String,
    #[serde(default)]
    pub physical_id: Option<String>,
    pub resource_type: String,
    pub status: String,
    #[serde(default)]
    pub reason: Option<String>,
    pub at_ms: EpochMs,
    /// The token of the call that started the operation (ExecuteChangeSet's, for instance): how
    /// a retried call tells whether its first attempt went through. Moto leaves it out.
    #[serde(default)]
    pub client_request_token: Option<String>,
}

impl StackEventRecord {
    /// True for the stack's own row (not a resource, not a nested stack).
    pub fn is_stack(&self) -> bool {
        self.resource_type == STACK_TYPE
            && (self.logical_id == self.stack_name
                || self.physical_id.as_deref() == Some(self.stack_id.as_str()))
    }
}

/// One page of DescribeStackEvents: newest first, as CloudFormation returns them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventsPage {
    pub events: Vec<StackEventRecord>,
    pub next_token: Option<String>,
}

/// What DescribeStacks says about one stack.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackInfo {
    pub stack_id: String,
    pub name: String,
    pub status: String,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub outputs: BTreeMap<String, String>,
}

/// Stack status classes, by CloudFormation's naming rules.
pub mod status {
    /// Still moving (`*_IN_PROGRESS`), including REVIEW_IN_PROGRESS.
    pub fn in_progress(s: &str) -> bool {
        s.ends_with("_IN_PROGRESS")
    }
    /// The operation ended as asked.
    pub fn succeeded(s: &str) -> bool {
        matches!(s, "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "IMPORT_COMPLETE")
    }
    /// A rollback is running or has ended.
    pub fn rollback(s: &str) -> bool {
        s.contains("ROLLBACK")
    }
    /// A resource or stack status that ends in failure.
    pub fn failed(s: &str) -> bool {
        s.ends_with("_FAILED")
    }
}

/// Checks the shape of an IAM role ARN offline (`arn:<partition>:iam::<12 digits>:role/<path
/// and name>`), so a typo in `--role-arn` is a usage error before any AWS call, not an
/// AccessDenied halfway through a plan.
pub fn check_role_arn(arn: &str) -> Result<(), String> {
    let hint = "expected arn:aws:iam::<12-digit account>:role/<name>";
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [scheme, partition, service, region, account, resource] = parts[..] else {
        return Err(format!("'{arn}' is not an ARN; {hint}"));
    };
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.len() <= 512
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c))
    };
    if scheme != "arn"
        || !matches!(
            partition,
            "aws" | "aws-cn" | "aws-us-gov" | "aws-iso" | "aws-iso-b"
        )
        || service != "iam"
        || !region.is_empty()
    {
        return Err(format!("'{arn}' is not an IAM ARN; {hint}"));
    }
    if account.len() != 12 || !account.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("'{arn}': the account must be 12 digits; {hint}"));
    }
    match resource.strip_prefix("role/") {
        Some(name) if name_ok(name) && !name.ends_with('/') => Ok(()),
        _ => Err(format!("'{arn}' does not name a role; {hint}")),
    }
}

/// Everything CreateChangeSet needs.
#[derive(Debug, Clone)]
pub struct ChangeSetRequest {
    pub stack_name: String,
    pub change_set_name: String,
    pub kind: ChangeSetKind,
    pub template: TemplateSource,
    pub tags: Vec<(String, String)>,
    /// Template parameters (the values of a stack's inputs).
    pub parameters: Vec<(String, String)>,
    pub description: String,
    /// The service role CloudFormation uses for the stack's resources (`--role-arn`).
    pub role_arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSetIds {
    pub id: String,
    pub stack_id: String,
}

/// DescribeChangeSet, all pages of changes merged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChangeSetInfo {
    /// CREATE_PENDING, CREATE_IN_PROGRESS, CREATE_COMPLETE, FAILED, ...
    pub status: String,
    pub reason: Option<String>,
    /// UNAVAILABLE, AVAILABLE, EXECUTE_IN_PROGRESS, ...
    pub execution_status: Option<String>,
    pub created_ms: Option<EpochMs>,
    pub changes: Vec<ResourceChange>,
}

/// What the monitor reads: stack events, and the stack's status as a fallback and final word.
#[async_trait]
pub trait StackEventsSource: Send + Sync {
    /// One page of events, newest first. `stack` is a name or (better: it survives deletion) an id.
    async fn stack_events(
        &self,
        stack: &str,
        next_token: Option<String>,
    ) -> Result<EventsPage, AwsError>;

    /// `None` when the stack does not exist.
    async fn describe_stack(&self, stack: &str) -> Result<Option<StackInfo>, AwsError>;
}

/// What the deployer calls, in one region.
#[async_trait]
pub trait CloudFormation: StackEventsSource {
    fn region(&self) -> &str;
    async fn create_change_set(&self, req: &ChangeSetRequest) -> Result<ChangeSetIds, AwsError>;
    async fn describe_change_set(
        &self,
        stack: &str,
        change_set: &str,
    ) -> Result<ChangeSetInfo, AwsError>;
    /// ExecuteChangeSet with `RetainExceptOnCreate` and `token` as its ClientRequestToken.
    async fn execute_change_set(
        &self,
        stack: &str,
        change_set: &str,
        token: &str,
    ) -> Result<(), AwsError>;
    async fn delete_change_set(&self, stack: &str, change_set: &str) -> Result<(), AwsError>;
    /// DeleteStack, as `role_arn` when given (the role that created the resources).
    async fn delete_stack(&self, stack: &str, role_arn: Option<&str>) -> Result<(), AwsError>;
    async fn cancel_update_stack(&self, stack: &str) -> Result<(), AwsError>;
}

/// CloudFormation through the AWS SDK (a client from [`crate::aws::AwsClients::cloudformation`]).
#[derive(Debug, Clone)]
pub struct SdkCloudFormation {
    client: aws_sdk_cloudformation::Client,
    region: String,
}

impl SdkCloudFormation {
    pub fn new(aws: &crate::aws::AwsClients, region: &str) -> Self {
        Self {
            client: aws.cloudformation(region),
            region: region.to_string(),
        }
    }
}

const SERVICE: &str = "cloudformation";

fn ms(dt: Option<&aws_smithy_types::DateTime>) -> Option<EpochMs> {
    dt.and_then(|d| d.to_millis().ok())
}

/// CloudFormation answers "does not exist" with a generic ValidationError.
pub fn is_missing_stack(e: &AwsError) -> bool {
    e.is_not_found()
        || (e.code.as_deref() == Some("ValidationError") && e.message.contains("does not exist"))
}

fn replacement(r: Option<&aws_sdk_cloudformation::types::Replacement>) -> Option<Replacement> {
    use aws_sdk_cloudformation::types::Replacement as R;
    match r? {
        R::True => Some(Replacement::Always),
        R::Conditional => Some(Replacement::Conditional),
        R::False => Some(Replacement::Never),
        _ => None,
    }
}

fn convert_change(c: &aws_sdk_cloudformation::types::ResourceChange) -> ResourceChange {
    use aws_sdk_cloudformation::types::ChangeAction as A;
    let action = match c.action() {
        Some(A::Add) => ChangeAction::Add,
        Some(A::Modify) => ChangeAction::Modify,
        Some(A::Remove) => ChangeAction::Remove,
        Some(A::Import) => ChangeAction::Import,
        _ => ChangeAction::Dynamic,
    };
    let mut replacing = Vec::new();
    let mut properties: Vec<PropertyChange> = Vec::new();
    for d in c.details() {
        if let Some(t) = d.target()
            && t.attribute() == Some(&ResourceAttribute::Properties)
            && let Some(name) = t.name()
            && !properties.iter().any(|p| p.name == name)
        {
            properties.push(PropertyChange {
                name: name.to_string(),
                before: t.before_value().map(str::to_string),
                after: t.after_value().map(str::to_string),
            });
        }
        if let Some(t) = d.target()
            && matches!(
                t.requires_recreation(),
                Some(RequiresRecreation::Always | RequiresRecreation::Conditionally)
            )
            && let Some(name) = t.name()
            && !replacing.iter().any(|n| n == name)
        {
            replacing.push(name.to_string());
        }
    }
    ResourceChange {
        action,
        logical_id: c.logical_resource_id().unwrap_or_default().to_string(),
        resource_type: c.resource_type().unwrap_or_default().to_string(),
        replacement: replacement(c.replacement()),
        replacing_properties: replacing,
        scope: c.scope().iter().map(|s| s.as_str().to_string()).collect(),
        properties,
    }
}

#[async_trait]
impl StackEventsSource for SdkCloudFormation {
    async fn stack_events(
        &self,
        stack: &str,
        next_token: Option<String>,
    ) -> Result<EventsPage, AwsError> {
        let out = self
            .client
            .describe_stack_events()
            .stack_name(stack)
            .set_next_token(next_token)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(SERVICE, "DescribeStackEvents", &e))?;
        let events = out
            .stack_events()
            .iter()
            .map(|e| StackEventRecord {
                event_id: e.event_id().unwrap_or_default().to_string(),
                stack_id: e.stack_id().unwrap_or_default().to_string(),
                stack_name: e.stack_name().unwrap_or_default().to_string(),
                logical_id: e.logical_resource_id().unwrap_or_default().to_string(),
                physical_id: e.physical_resource_id().map(str::to_string),
                resource_type: e.resource_type().unwrap_or_default().to_string(),
                status: e
                    .resource_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                reason: e
                    .resource_status_reason()
                    .filter(|r| !r.is_empty())
                    .map(str::to_string),
                at_ms: ms(e.timestamp()).unwrap_or(0),
                client_request_token: e.client_request_token().map(str::to_string),
            })
            .collect();
        Ok(EventsPage {
            events,
            next_token: out.next_token().map(str::to_string),
        })
    }

    async fn describe_stack(&self, stack: &str) -> Result<Option<StackInfo>, AwsError> {
        let out = match self.client.describe_stacks().stack_name(stack).send().await {
            Ok(o) => o,
            Err(e) => {
                let err = AwsError::from_sdk(SERVICE, "DescribeStacks", &e);
                return if is_missing_stack(&err) {
                    Ok(None)
                } else {
                    Err(err)
                };
            }
        };
        Ok(out.stacks().first().map(|s| StackInfo {
            stack_id: s.stack_id().unwrap_or_default().to_string(),
            name: s.stack_name().unwrap_or_default().to_string(),
            status: s
                .stack_status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            reason: s.stack_status_reason().map(str::to_string),
            outputs: s
                .outputs()
                .iter()
                .filter_map(|o| {
                    Some((
                        o.output_key()?.to_string(),
                        o.output_value().unwrap_or_default().to_string(),
                    ))
                })
                .collect(),
        }))
    }
}

#[async_trait]
impl CloudFormation for SdkCloudFormation {
    fn region(&self) -> &str {
        &self.region
    }

    async fn create_change_set(&self, req: &ChangeSetRequest) -> Result<ChangeSetIds, AwsError> {
        let mut call = self
            .client
            .create_change_set()
            .stack_name(&req.stack_name)
            .change_set_name(&req.change_set_name)
            .change_set_type(match req.kind {
                ChangeSetKind::Create => ChangeSetType::Create,
                ChangeSetKind::Update => ChangeSetType::Update,
            })
            // Medplum's stack names its IAM roles: both capabilities are needed.
            .capabilities(Capability::CapabilityIam)
            .capabilities(Capability::CapabilityNamedIam)
            .description(&req.description)
            // The name is new per deploy: a retry carrying it is recognised as the same request.
            .client_token(&req.change_set_name)
            .set_role_arn(req.role_arn.clone());
        call = match &req.template {
            TemplateSource::Body(body) => call.template_body(body),
            TemplateSource::Url { url, .. } => call.template_url(url),
        };
        for (k, v) in &req.tags {
            call = call.tags(Tag::builder().key(k).value(v).build());
        }
        for (k, v) in &req.parameters {
            call = call.parameters(
                aws_sdk_cloudformation::types::Parameter::builder()
                    .parameter_key(k)
                    .parameter_value(v)
                    .build(),
            );
        }
        let err = match call.send().await {
            Ok(out) => {
                return Ok(ChangeSetIds {
                    id: out.id().unwrap_or(&req.change_set_name).to_string(),
                    stack_id: out.stack_id().unwrap_or(&req.stack_name).to_string(),
                });
            }
            Err(e) => AwsError::from_sdk(SERVICE, "CreateChangeSet", &e),
        };
        if err.kind != AwsErrorKind::AlreadyExists {
            return Err(err);
        }
        // "ChangeSet <name> already exists": the name is this deploy's own, so an earlier attempt
        // of this call made it and its answer was lost (the SDK retried). Carry on with that one.
        // "Stack [name] already exists" finds no change set of that name: the refusal stands.
        match self
            .client
            .describe_change_set()
            .stack_name(&req.stack_name)
            .change_set_name(&req.change_set_name)
            .send()
            .await
        {
            Ok(out) => Ok(ChangeSetIds {
                id: out
                    .change_set_id()
                    .unwrap_or(&req.change_set_name)
                    .to_string(),
                stack_id: out.stack_id().unwrap_or(&req.stack_name).to_string(),
            }),
            Err(_) => Err(err),
        }
    }

    async fn describe_change_set(
        &self,
        stack: &str,
        change_set: &str,
    ) -> Result<ChangeSetInfo, AwsError> {
        let mut info = ChangeSetInfo::default();
        let mut token = None;
        loop {
            let out = self
                .client
                .describe_change_set()
                .stack_name(stack)
                .change_set_name(change_set)
                // Before and after values, which the data-risk guard reads (an engine version).
                .include_property_values(true)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(SERVICE, "DescribeChangeSet", &e))?;
            info.status = out
                .status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default();
            info.reason = out.status_reason().map(str::to_string);
            info.execution_status = out.execution_status().map(|s| s.as_str().to_string());
            info.created_ms = ms(out.creation_time());
            info.changes.extend(
                out.changes()
                    .iter()
                    .filter_map(|c| c.resource_change())
                    .map(convert_change),
            );
            token = out.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(info);
            }
        }
    }

    async fn execute_change_set(
        &self,
        stack: &str,
        change_set: &str,
        token: &str,
    ) -> Result<(), AwsError> {
        self.client
            .execute_change_set()
            .stack_name(stack)
            .change_set_name(change_set)
            // A retried call with the same token is recognised, and the stack's events carry it.
            .client_request_token(token)
            // A failed first create deletes what it made, buckets included: a retained bucket
            // would block the next create with the same name. Updates still retain as the
            // template says.
            .retain_except_on_create(true)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk(SERVICE, "ExecuteChangeSet", &e))
    }

    async fn delete_change_set(&self, stack: &str, change_set: &str) -> Result<(), AwsError> {
        self.client
            .delete_change_set()
            .stack_name(stack)
            .change_set_name(change_set)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk(SERVICE, "DeleteChangeSet", &e))
    }

    async fn delete_stack(&self, stack: &str, role_arn: Option<&str>) -> Result<(), AwsError> {
        self.client
            .delete_stack()
            .stack_name(stack)
            .set_role_arn(role_arn.map(str::to_string))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk(SERVICE, "DeleteStack", &e))
    }

    async fn cancel_update_stack(&self, stack: &str) -> Result<(), AwsError> {
        self.client
            .cancel_update_stack()
            .stack_name(stack)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk(SERVICE, "CancelUpdateStack", &e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes() {
        assert!(status::in_progress("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"));
        assert!(status::in_progress("REVIEW_IN_PROGRESS"));
        assert!(status::succeeded("UPDATE_COMPLETE"));
        assert!(!status::succeeded("UPDATE_ROLLBACK_COMPLETE"));
        assert!(!status::succeeded("ROLLBACK_COMPLETE"));
        assert!(status::rollback("UPDATE_ROLLBACK_IN_PROGRESS"));
        assert!(status::failed("CREATE_FAILED"));
    }

    #[test]
    fn the_stack_row_is_recognised() {
        let mut e = StackEventRecord {
            event_id: "1".into(),
            stack_id: "arn:aws:cloudformation:us-east-1:1:stack/S/abc".into(),
            stack_name: "S".into(),
            logical_id: "S".into(),
            physical_id: Some("arn:aws:cloudformation:us-east-1:1:stack/S/abc".into()),
            resource_type: STACK_TYPE.into(),
            status: "CREATE_IN_PROGRESS".into(),
            reason: None,
            at_ms: 0,
            client_request_token: None,
        };
        assert!(e.is_stack());
        e.logical_id = "Nested".into();
        e.physical_id = Some("arn:…/Nested".into());
        assert!(!e.is_stack());
    }

    #[test]
    fn a_change_keeps_its_properties_with_values_and_the_replacing_ones() {
        use aws_sdk_cloudformation::types as t;
        let target = |attr: t::ResourceAttribute, name: &str, rec: t::RequiresRecreation| {
            t::ResourceChangeDetail::builder()
                .target(
                    t::ResourceTargetDefinition::builder()
                        .attribute(attr)
                        .name(name)
                        .requires_recreation(rec)
                        .before_value(format!("{name}-before"))
                        .after_value(format!("{name}-after"))
                        .build(),
                )
                .build()
        };
        let c = t::ResourceChange::builder()
            .action(t::ChangeAction::Modify)
            .logical_resource_id("Db")
            .resource_type("AWS::RDS::DBCluster")
            .replacement(t::Replacement::True)
            .details(target(
                t::ResourceAttribute::Properties,
                "EngineVersion",
                t::RequiresRecreation::Never,
            ))
            // The same property named twice (a direct and an indirect cause) is kept once.
            .details(target(
                t::ResourceAttribute::Properties,
                "DBClusterIdentifier",
                t::RequiresRecreation::Always,
            ))
            .details(target(
                t::ResourceAttribute::Properties,
                "DBClusterIdentifier",
                t::RequiresRecreation::Always,
            ))
            .details(target(
                t::ResourceAttribute::Tags,
                "Tags",
                t::RequiresRecreation::Never,
            ))
            .build();
        let r = convert_change(&c);
        assert!(r.replaces());
        assert_eq!(r.replacing_properties, ["DBClusterIdentifier"]);
        let names: Vec<&str> = r.properties.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["EngineVersion", "DBClusterIdentifier"]);
        assert_eq!(
            r.properties[0].before.as_deref(),
            Some("EngineVersion-before")
        );
        assert_eq!(
            r.properties[0].after.as_deref(),
            Some("EngineVersion-after")
        );
    }

    #[test]
    fn role_arns_are_checked_offline() {
        assert_eq!(
            check_role_arn("arn:aws:iam::123456789012:role/medplum-deploy"),
            Ok(())
        );
        assert_eq!(
            check_role_arn("arn:aws-us-gov:iam::123456789012:role/path/cfn-exec"),
            Ok(())
        );
        for bad in [
            "medplum-deploy",
            "arn:aws:iam::12345:role/x",
            "arn:aws:iam::123456789012:user/x",
            "arn:aws:s3:::bucket",
            "arn:aws:iam:us-east-1:123456789012:role/x",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:iam::123456789012:role/bad name",
        ] {
            assert!(check_role_arn(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn missing_stacks_are_recognised() {
        let e = AwsError {
            service: "cloudformation".into(),
            operation: "DescribeStacks".into(),
            code: Some("ValidationError".into()),
            message: "Stack with id X does not exist".into(),
            kind: crate::aws::AwsErrorKind::Other,
        };
        assert!(is_missing_stack(&e));
    }
}
