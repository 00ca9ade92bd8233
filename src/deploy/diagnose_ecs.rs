//! [`ServiceDiagnostics`] over the AWS SDK's ECS client.
//!

use async_trait::async_trait;

use super::diagnose::{KEEP, ServiceDiagnostics, ServiceReport, cluster_of};
use crate::aws::AwsError;

/// ECS through the AWS SDK: DescribeServices for the events, ListTasks (STOPPED) and
/// DescribeTasks for the reasons. Read-only calls (`ecs:DescribeServices`, `ecs:ListTasks`,
/// `ecs:DescribeTasks`).
#[derive(Debug, Clone)]
pub struct EcsDiagnostics {
    aws: crate::aws::AwsClients,
}

impl EcsDiagnostics {
    pub fn new(aws: crate::aws::AwsClients) -> Self {
        Self { aws }
    }
}

fn ecs_error<E>(
    op: &str,
    e: &aws_smithy_runtime_api::client::result::SdkError<
        E,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
) -> AwsError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    AwsError::from_sdk("ecs", op, e)
}

#[async_trait]
impl ServiceDiagnostics for EcsDiagnostics {
    async fn diagnose(&self, region: &str, service: &str) -> Result<ServiceReport, AwsError> {
        let ecs = self.aws.ecs(region);
        let cluster = cluster_of(service);
        let out = ecs
            .describe_services()
            .cluster(&cluster)
            .services(service)
            .send()
            .await
            .map_err(|e| ecs_error("DescribeServices", &e))?;
        let mut report = ServiceReport::default();
        let name = out
            .services()
            .first()
            .and_then(|s| s.service_name().map(str::to_string));
        if let Some(s) = out.services().first() {
            report.events = s
                .events()
                .iter()
                .take(KEEP)
                .filter_map(|e| e.message().map(str::to_string))
                .collect();
        }
        let Some(name) = name else {
            return Ok(report);
        };
        let tasks = ecs
            .list_tasks()
            .cluster(&cluster)
            .service_name(&name)
            .desired_status(aws_sdk_ecs::types::DesiredStatus::Stopped)
            .max_results(KEEP as i32)
            .send()
            .await
            .map_err(|e| ecs_error("ListTasks", &e))?;
        if tasks.task_arns().is_empty() {
            return Ok(report);
        }
        let described = ecs
            .describe_tasks()
            .cluster(&cluster)
            .set_tasks(Some(tasks.task_arns().to_vec()))
            .send()
            .await
            .map_err(|e| ecs_error("DescribeTasks", &e))?;
        for t in described.tasks() {
            let mut line = t.stopped_reason().unwrap_or("stopped").to_string();
            for c in t.containers() {
                if let Some(r) = c.reason() {
                    line.push_str(&format!("; {}: {r}", c.name().unwrap_or("container")));
                }
            }
            if !report.stopped_tasks.contains(&line) {
                report.stopped_tasks.push(line);
            }
        }
        Ok(report)
    }
}
