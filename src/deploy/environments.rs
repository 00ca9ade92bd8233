//! The environments an account holds: the stacks tagged `medplum:environment` (the tag Medplum's
//! own `aws list` reads), per region, each primary stack with its `-us-east-1` companion and the
//! server image its task definition runs. Read-only.

use aws_sdk_cloudformation::types::Stack;

use super::templates::ENV_TAG;
use crate::aws::{AwsClients, AwsError};
use crate::config::US_EAST_1;

/// One stack, as `list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StackSummary {
    pub name: String,
    pub region: String,
    pub status: String,
    /// The last update, else the creation (RFC 3339).
    pub updated: Option<String>,
}

/// One environment: its primary stack, the us-east-1 companion when the primary is elsewhere,
/// and the image its Medplum server runs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Environment {
    pub name: String,
    pub region: String,
    pub stack: StackSummary,
    pub companion: Option<StackSummary>,
    pub server_image: Option<String>,
}

/// The environments in `regions` (us-east-1 is always read too: companions live there), sorted
/// by name and region.
pub async fn list(aws: &AwsClients, regions: &[String]) -> Result<Vec<Environment>, AwsError> {
    let mut regions: Vec<String> = regions.to_vec();
    regions.push(US_EAST_1.to_string());
    regions.sort();
    regions.dedup();
    let mut tagged: Vec<(String, String, Stack)> = Vec::new();
    for region in &regions {
        for stack in tagged_stacks(aws, region).await? {
            let env = env_tag(&stack).unwrap_or_default();
            tagged.push((env, region.clone(), stack));
        }
    }
    let summary = |region: &str, s: &Stack| StackSummary {
        name: s.stack_name().unwrap_or_default().to_string(),
        region: region.to_string(),
        status: s
            .stack_status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        updated: s
            .last_updated_time()
            .or(s.creation_time())
            .and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok()),
    };
    let mut out = Vec::new();
    for (env, region, stack) in &tagged {
        let name = stack.stack_name().unwrap_or_default();
        // A companion: in us-east-1, named after a primary of the same environment elsewhere.
        let is_companion = region == US_EAST_1
            && name
                .strip_suffix(&format!("-{US_EAST_1}"))
                .is_some_and(|base| {
                    tagged
                        .iter()
                        .any(|(e, r, s)| e == env && r != US_EAST_1 && s.stack_name() == Some(base))
                });
        if is_companion {
            continue;
        }
        let companion = (region != US_EAST_1)
            .then(|| {
                let want = format!("{name}-{US_EAST_1}");
                tagged
                    .iter()
                    .find(|(e, r, s)| e == env && r == US_EAST_1 && s.stack_name() == Some(&want))
                    .map(|(_, r, s)| summary(r, s))
            })
            .flatten();
        out.push(Environment {
            name: env.clone(),
            region: region.clone(),
            stack: summary(region, stack),
            companion,
            server_image: server_image(aws, region, name).await?,
        });
    }
    out.sort_by(|a, b| (&a.name, &a.region).cmp(&(&b.name, &b.region)));
    Ok(out)
}

fn env_tag(stack: &Stack) -> Option<String> {
    stack
        .tags()
        .iter()
        .find(|t| t.key() == Some(ENV_TAG))
        .and_then(|t| t.value())
        .map(str::to_string)
}

/// Every stack of the region that carries the environment tag.
async fn tagged_stacks(aws: &AwsClients, region: &str) -> Result<Vec<Stack>, AwsError> {
    let client = aws.cloudformation(region);
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .describe_stacks()
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("cloudformation", "DescribeStacks", &e))?;
        out.extend(
            page.stacks()
                .iter()
                .filter(|s| env_tag(s).is_some())
                .cloned(),
        );
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => return Ok(out),
        }
    }
}

/// `(logical id, type, physical id)` of the stack's resources that have a physical id, read
/// with ListStackResources page by page.
pub async fn stack_resources(
    aws: &AwsClients,
    region: &str,
    stack: &str,
) -> Result<Vec<(String, String, String)>, AwsError> {
    let client = aws.cloudformation(region);
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .list_stack_resources()
            .stack_name(stack)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("cloudformation", "ListStackResources", &e))?;
        for r in page.stack_resource_summaries() {
            if let (Some(l), Some(t), Some(p)) = (
                r.logical_resource_id(),
                r.resource_type(),
                r.physical_resource_id(),
            ) {
                out.push((l.to_string(), t.to_string(), p.to_string()));
            }
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => return Ok(out),
        }
    }
}

/// The physical ID of the first resource of `stack` that `wanted` picks (by type and logical
/// ID).
pub async fn find_resource(
    aws: &AwsClients,
    region: &str,
    stack: &str,
    wanted: impl Fn(&str, &str) -> bool,
) -> Result<Option<String>, AwsError> {
    Ok(stack_resources(aws, region, stack)
        .await?
        .into_iter()
        .find(|(l, t, _)| wanted(t, l))
        .map(|(_, _, p)| p))
}

/// The image of the first container of the stack's task definition; `None` when the stack has
/// none (the companion, a stack still being created).
pub async fn server_image(
    aws: &AwsClients,
    region: &str,
    stack: &str,
) -> Result<Option<String>, AwsError> {
    let task_definition =
        find_resource(aws, region, stack, |ty, _| ty == "AWS::ECS::TaskDefinition").await?;
    let Some(arn) = task_definition else {
        return Ok(None);
    };
    let out = aws
        .ecs(region)
        .describe_task_definition()
        .task_definition(&arn)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ecs", "DescribeTaskDefinition", &e))?;
    Ok(out
        .task_definition()
        .and_then(|t| t.container_definitions().first())
        .and_then(|c| c.image())
        .map(str::to_string))
}
