//! Stage 4 of a rotation: the Medplum servers load their signing key at start, so they are
//! restarted (ECS UpdateService with a forced new deployment) and followed until the new
//! deployment has completed. The old tasks keep serving, signing with the old key, until the new
//! ones are healthy: no request goes unanswered, and both keys verify throughout.
//!
//! The deployment's id is journaled as soon as ECS answers, so a resumed run follows the same
//! deployment instead of starting another.

use std::time::{Duration, Instant};

use super::{Rotation, Stage};
use crate::aws::AwsError;
use crate::engine::{Ctx, StepError, StepId};

const ID: StepId = StepId::SigningKey;

/// How long a restart may take before the stage gives up (the rotation stays resumable).
pub const TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Where one deployment stands, as DescribeServices shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollout {
    pub running: i32,
    pub desired: i32,
    /// `IN_PROGRESS`, `COMPLETED` or `FAILED`; empty when ECS does not say.
    pub state: String,
    pub reason: String,
    /// Other deployments still serving (the old tasks).
    pub others: usize,
}

impl Rollout {
    pub fn done(&self) -> bool {
        self.state == "COMPLETED"
            || (self.state.is_empty() && self.others == 0 && self.running >= self.desired)
    }

    pub fn failed(&self) -> bool {
        self.state == "FAILED"
    }

    pub fn line(&self, id: &str) -> String {
        let mut s = format!(
            "deployment {id}: {} of {} new tasks running",
            self.running, self.desired
        );
        if self.others > 0 {
            s.push_str(", the old tasks still serving");
        }
        if !self.state.is_empty() {
            s.push_str(&format!(
                " ({})",
                self.state.to_lowercase().replace('_', " ")
            ));
        }
        s
    }
}

/// The service's ARN in the stack, and its cluster.
pub async fn find_service(ctx: &Ctx, stack: &str) -> Result<(String, String), StepError> {
    let aws = ctx.aws()?;
    let arn = crate::deploy::environments::find_resource(aws, ctx.region(), stack, |ty, _| {
        ty == "AWS::ECS::Service"
    })
    .await?
    .ok_or_else(|| {
        StepError::failed(
            format!("the stack {stack} has no ECS service"),
            Some("deploy the environment first (`medplum-init deploy`)".into()),
        )
    })?;
    let cluster = crate::deploy::diagnose::cluster_of(&arn);
    Ok((arn, cluster))
}

/// Starts the forced deployment (unless the record names one already) and waits until it has
/// completed. Records the deployment, then the stage with the time the grace period starts.
pub async fn restart(ctx: &Ctx, stack: &str) -> Result<(), StepError> {
    let mut r: Rotation = super::key::load(ctx)?.unwrap_or_default();
    let (service, cluster) = find_service(ctx, stack).await?;
    let ecs = ctx.aws()?.ecs(ctx.region());
    let deployment = match r.deployment.clone() {
        Some(d) => {
            ctx.events
                .progress(ID, format!("following deployment {d}, started earlier"));
            d
        }
        None => {
            let out = ctx
                .call(
                    ID,
                    "ecs",
                    "UpdateService",
                    ctx.region(),
                    &service,
                    ecs.update_service()
                        .cluster(&cluster)
                        .service(&service)
                        .force_new_deployment(true)
                        .send(),
                )
                .await?;
            let id = out
                .service()
                .and_then(|s| {
                    s.deployments()
                        .iter()
                        .find(|d| d.status() == Some("PRIMARY"))
                })
                .and_then(|d| d.id())
                .map(str::to_string)
                .ok_or_else(|| {
                    StepError::failed("ECS started no deployment for the service", None)
                })?;
            r.deployment = Some(id.clone());
            super::key::save(ctx, &r)?;
            id
        }
    };
    let started = Instant::now();
    let mut delay = Duration::from_secs(1);
    let mut last = String::new();
    loop {
        ctx.check_cancel()?;
        let rollout = describe(ctx, &cluster, &service, &deployment).await?;
        let line = rollout.line(&deployment);
        if line != last {
            ctx.events.progress(ID, line.clone());
            last = line;
        }
        if rollout.failed() {
            return Err(StepError::failed(
                format!(
                    "the servers did not start on the new key: deployment {deployment} failed ({})",
                    rollout.reason
                ),
                Some("the old tasks still serve and both keys are trusted; see why with `medplum-init status` and the service's events, then run `medplum-init rotate signing-key` again to resume".into()),
            ));
        }
        if rollout.done() {
            break;
        }
        if started.elapsed() > TIMEOUT {
            return Err(StepError::Timeout {
                what: format!("deployment {deployment}"),
                minutes: TIMEOUT.as_secs() / 60,
            });
        }
        if !ctx.cancel.sleep(delay).await {
            return Err(StepError::Cancelled);
        }
        delay = (delay * 2).min(Duration::from_secs(10));
    }
    r.restarted_at = Some(crate::engine::time::now_rfc3339());
    r.stage = Stage::Restarted;
    super::key::save(ctx, &r)?;
    Ok(())
}

/// Our deployment's progress. A deployment no longer listed has been replaced by a later one
/// (someone deployed again), which ECS starts from the same task definition and parameters:
/// it runs the new key too, and counts as done once it completes.
async fn describe(
    ctx: &Ctx,
    cluster: &str,
    service: &str,
    deployment: &str,
) -> Result<Rollout, StepError> {
    let ecs = ctx.aws()?.ecs(ctx.region());
    let out = ecs
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ecs", "DescribeServices", &e))?;
    let s = out
        .services()
        .first()
        .ok_or_else(|| StepError::failed(format!("ECS has no service {service}"), None))?;
    let deployments = s.deployments();
    let ours = deployments
        .iter()
        .find(|d| d.id() == Some(deployment))
        .or_else(|| deployments.iter().find(|d| d.status() == Some("PRIMARY")));
    let Some(d) = ours else {
        return Err(StepError::failed(
            format!("the service {service} lists no deployment"),
            None,
        ));
    };
    Ok(Rollout {
        running: d.running_count(),
        desired: d.desired_count(),
        state: d
            .rollout_state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        reason: d.rollout_state_reason().unwrap_or_default().to_string(),
        others: deployments.len().saturating_sub(1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(running: i32, state: &str, others: usize) -> Rollout {
        Rollout {
            running,
            desired: 2,
            state: state.into(),
            reason: String::new(),
            others,
        }
    }

    #[test]
    fn a_rollout_is_done_when_ecs_says_so_or_the_old_tasks_are_gone() {
        assert!(!r(1, "IN_PROGRESS", 1).done());
        assert!(!r(2, "IN_PROGRESS", 1).done(), "ECS has not said completed");
        assert!(r(2, "COMPLETED", 0).done());
        assert!(!r(2, "", 1).done(), "the old tasks still run");
        assert!(r(2, "", 0).done());
        assert!(r(0, "FAILED", 1).failed());
        assert_eq!(
            r(1, "IN_PROGRESS", 1).line("ecs-svc/1"),
            "deployment ecs-svc/1: 1 of 2 new tasks running, the old tasks still serving (in progress)"
        );
    }
}
