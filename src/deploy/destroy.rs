//! Taking an environment down: which stacks are its own (found as `list` finds them, by the
//! `medplum:environment` tag, the primary with its `-us-east-1` stack), what deleting them
//! removes and what it leaves (resources whose `DeletionPolicy` keeps them, a database's final
//! snapshot), and the delete itself, followed with the deploy's monitor so the same panes and
//! plain lines show it. What lives outside the stacks is [`super::remains`]'s.
//!
//! Order: the us-east-1 stack first (it is deployed last and reads the primary's outputs), then
//! the primary. A stack already DELETE_IN_PROGRESS (a destroy interrupted) is followed, not
//! deleted again; one that is gone is skipped, so a re-run continues where the last one stopped.
//! Nothing in here draws, prints or prompts.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use super::cfn::{CloudFormation, StackEventRecord, status};
use super::clock::Clock;
use super::event::{DeployEvent, DeploySink, FailureRecap, Time};
use super::monitor::{Watch, WatchEnd};
use crate::aws::{AwsClients, AwsError};
use crate::config::US_EAST_1;
use crate::engine::Cancel;
use crate::error::Diagnostic;
use crate::outcome::Outcome;

/// One stack of the environment, as found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StackRef {
    pub name: String,
    pub region: String,
    pub status: String,
}

/// A resource of a stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resource {
    pub logical_id: String,
    pub resource_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub physical_id: Option<String>,
}

/// Why a resource outlives its stack's delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kept {
    /// `DeletionPolicy: Retain` (or `RetainExceptOnCreate`, which a stack delete retains): the
    /// resource itself stays.
    Retain,
    /// `DeletionPolicy: Snapshot`: the resource is deleted after a final snapshot, which stays.
    Snapshot,
}

/// What deleting one stack does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StackPlan {
    #[serde(flatten)]
    pub stack: StackRef,
    /// Deleted with the stack (a `Snapshot` resource is in here too: the resource goes).
    pub deleted: Vec<Resource>,
    /// Left in place or leaving a snapshot.
    pub kept: Vec<(Resource, Kept)>,
}

/// The environment's stacks in delete order: every us-east-1 companion first, then the
/// primaries (`list` gives each environment once per region, the companion attached).
pub async fn find_stacks(
    aws: &AwsClients,
    env: &str,
    regions: &[String],
) -> Result<Vec<StackRef>, AwsError> {
    let found = super::environments::list(aws, regions).await?;
    let mut companions = Vec::new();
    let mut primaries = Vec::new();
    for e in found.into_iter().filter(|e| e.name == env) {
        if let Some(c) = e.companion {
            companions.push(StackRef {
                name: c.name,
                region: c.region,
                status: c.status,
            });
        }
        primaries.push(StackRef {
            name: e.stack.name,
            region: e.stack.region,
            status: e.stack.status,
        });
    }
    // A us-east-1 stack standing alone (its primary deleted by an interrupted destroy) is listed
    // as a primary of us-east-1; it still goes first.
    primaries.sort_by_key(|s| s.region != US_EAST_1 || !s.name.ends_with(US_EAST_1));
    companions.extend(primaries);
    Ok(companions)
}

/// Splits a stack's live resources by the `DeletionPolicy` its template gives each. Pure.
///
/// `UpdateReplacePolicy` plays no part: it applies when an update replaces a resource, never to
/// a stack delete. Resources already deleted or skipped (a delete that failed halfway and is
/// run again) are not listed.
pub fn split(resources: Vec<(Resource, String)>, template: &Value) -> StackSplit {
    let mut out = StackSplit::default();
    for (r, status) in resources {
        if matches!(status.as_str(), "DELETE_COMPLETE" | "DELETE_SKIPPED") {
            continue;
        }
        let policy = template["Resources"][&r.logical_id]["DeletionPolicy"]
            .as_str()
            .unwrap_or("Delete");
        match policy {
            "Retain" | "RetainExceptOnCreate" => out.kept.push((r, Kept::Retain)),
            "Snapshot" => {
                out.kept.push((r.clone(), Kept::Snapshot));
                out.deleted.push(r);
            }
            _ => out.deleted.push(r),
        }
    }
    out
}

/// [`split`]'s answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StackSplit {
    pub deleted: Vec<Resource>,
    pub kept: Vec<(Resource, Kept)>,
}

/// What deleting `stack` removes and keeps: its resources (ListStackResources) against its
/// template's policies (GetTemplate, the original template as deployed).
pub async fn plan_stack(aws: &AwsClients, stack: &StackRef) -> Result<StackPlan, AwsError> {
    let client = aws.cloudformation(&stack.region);
    let mut resources = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .list_stack_resources()
            .stack_name(&stack.name)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("cloudformation", "ListStackResources", &e))?;
        for r in page.stack_resource_summaries() {
            resources.push((
                Resource {
                    logical_id: r.logical_resource_id().unwrap_or_default().to_string(),
                    resource_type: r.resource_type().unwrap_or_default().to_string(),
                    physical_id: r
                        .physical_resource_id()
                        .filter(|p| !p.is_empty())
                        .map(str::to_string),
                },
                r.resource_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
            ));
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    let body = client
        .get_template()
        .stack_name(&stack.name)
        .template_stage(aws_sdk_cloudformation::types::TemplateStage::Original)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("cloudformation", "GetTemplate", &e))?;
    // A template that does not parse as JSON (YAML made by hand) has no policies we can read:
    // everything is then listed as deleted, which is what CloudFormation does by default.
    let template: Value = body
        .template_body()
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    let s = split(resources, &template);
    Ok(StackPlan {
        stack: stack.clone(),
        deleted: s.deleted,
        kept: s.kept,
    })
}

/// Why a destroy stopped.
#[derive(Debug, thiserror::Error)]
pub enum DestroyError {
    #[error("{stack}: {source}")]
    Aws {
        stack: String,
        #[source]
        source: Box<AwsError>,
    },
    #[error("the delete of {stack} failed: {}", failures.first().map(|f| format!("{} ({}): {}", f.logical_id, f.resource_type, f.reason)).unwrap_or_else(|| "see its events".into()))]
    DeleteFailed {
        stack: String,
        failures: Vec<FailureRecap>,
    },
    #[error("{stack} is busy ({status}): another operation is running on it")]
    Busy { stack: String, status: String },
    #[error("interrupted while {stack} is being deleted")]
    Interrupted { stack: String },
    #[error("lost track of {stack}: {reads} reads of its events and status in a row failed")]
    Unreadable { stack: String, reads: u32 },
    #[error("the delete of {stack} did not finish within {minutes} minutes")]
    Timeout { stack: String, minutes: u64 },
}

impl Diagnostic for DestroyError {
    fn outcome(&self) -> Outcome {
        match self {
            DestroyError::Interrupted { .. } => Outcome::Interrupted,
            _ => Outcome::Failed,
        }
    }

    fn hint(&self) -> Option<String> {
        Some(match self {
            DestroyError::Aws { source, .. } => return source.hint(),
            DestroyError::DeleteFailed { stack, .. } => format!(
                "fix what the reasons above name (a bucket that is not empty, a resource in use elsewhere), then run `medplum-init destroy` again: it deletes {stack} again and goes on"
            ),
            DestroyError::Busy { .. } => {
                "wait for the running operation to end (CloudFormation console, or `medplum-init list`), then run `medplum-init destroy` again".into()
            }
            DestroyError::Interrupted { .. } | DestroyError::Unreadable { .. } | DestroyError::Timeout { .. } => {
                "CloudFormation goes on deleting on its own; run `medplum-init destroy` again to follow it and continue".into()
            }
        })
    }
}

/// How one stack's delete ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StackEnd {
    Deleted,
    /// It was gone already (a re-run).
    AlreadyGone,
}

/// Deletes one stack (or follows the delete already running) until DELETE_COMPLETE, its events
/// sent to `sink`. Ctrl-C stops following; CloudFormation carries on.
#[allow(clippy::too_many_arguments)]
pub async fn delete_stack(
    cfn: &dyn CloudFormation,
    clock: &dyn Clock,
    sink: &DeploySink,
    stack: &StackRef,
    role_arn: Option<&str>,
    cancel: &Cancel,
    timeout: Duration,
    max_poll_failures: u32,
) -> Result<StackEnd, DestroyError> {
    let aws = |source: AwsError| DestroyError::Aws {
        stack: stack.name.clone(),
        source: Box::new(source),
    };
    let Some(info) = cfn.describe_stack(&stack.name).await.map_err(aws)? else {
        sink.note(Some(&stack.name), "already deleted");
        return Ok(StackEnd::AlreadyGone);
    };
    let started = clock.now_ms();
    let since = if info.status == "DELETE_IN_PROGRESS" {
        // Follow the delete already running, from its start (the newest DELETE_IN_PROGRESS of
        // the stack's own row).
        let page = cfn.stack_events(&info.stack_id, None).await.map_err(aws)?;
        let since = delete_began(&page.events).unwrap_or(started);
        sink.emit(DeployEvent::Attaching {
            stack: stack.name.clone(),
            region: stack.region.clone(),
            stack_id: info.stack_id.clone(),
            status: info.status.clone(),
            since: Time(since),
            at: Time(started),
        });
        since
    } else if status::in_progress(&info.status) && info.status != "REVIEW_IN_PROGRESS" {
        return Err(DestroyError::Busy {
            stack: stack.name.clone(),
            status: info.status,
        });
    } else {
        cfn.delete_stack(&info.stack_id, role_arn)
            .await
            .map_err(aws)?;
        sink.emit(DeployEvent::DeleteStarted {
            stack: stack.name.clone(),
            region: stack.region.clone(),
            stack_id: info.stack_id.clone(),
            at: Time(started),
        });
        started
    };
    let mut watch = Watch::new(cfn, clock, sink, &stack.name, &info.stack_id, since)
        .with_deadline(started + timeout.as_millis() as i64);
    watch = watch.with_policy(
        super::monitor::PollPolicy {
            max_failures: max_poll_failures,
            ..Default::default()
        },
        started as u64,
    );
    let end = watch.run(Some(cancel)).await;
    let finished = |ok: bool, status: &str, reason: Option<String>| {
        sink.emit(DeployEvent::StackFinished {
            stack: stack.name.clone(),
            status: status.to_string(),
            ok,
            reason,
            outputs: BTreeMap::new(),
            at: Time(clock.now_ms()),
        })
    };
    match end {
        WatchEnd::Settled(s) if s == "DELETE_COMPLETE" => {
            finished(true, &s, None);
            Ok(StackEnd::Deleted)
        }
        WatchEnd::Settled(s) => {
            let events = super::leftovers::all_events(cfn, &info.stack_id)
                .await
                .unwrap_or_default();
            let failures = failures(&stack.name, &events, since);
            finished(false, &s, failures.first().map(|f| f.reason.clone()));
            Err(DestroyError::DeleteFailed {
                stack: stack.name.clone(),
                failures,
            })
        }
        WatchEnd::Interrupted => Err(DestroyError::Interrupted {
            stack: stack.name.clone(),
        }),
        WatchEnd::TimedOut => Err(DestroyError::Timeout {
            stack: stack.name.clone(),
            minutes: timeout.as_secs() / 60,
        }),
        WatchEnd::Unreadable { failures, .. } => Err(DestroyError::Unreadable {
            stack: stack.name.clone(),
            reads: failures,
        }),
    }
}

/// When the delete running on a stack began: its newest DELETE_IN_PROGRESS (events newest
/// first, as CloudFormation returns them).
pub fn delete_began(events: &[StackEventRecord]) -> Option<i64> {
    events
        .iter()
        .find(|e| e.is_stack() && e.status == "DELETE_IN_PROGRESS")
        .map(|e| e.at_ms)
}

/// The resources whose delete failed since `since_ms`, oldest first, with CloudFormation's
/// reasons (the stack's own summary row left out).
pub fn failures(stack: &str, events: &[StackEventRecord], since_ms: i64) -> Vec<FailureRecap> {
    let mut out: Vec<FailureRecap> = events
        .iter()
        .filter(|e| e.at_ms >= since_ms && e.status == "DELETE_FAILED" && !e.is_stack())
        .map(|e| FailureRecap {
            stack: stack.to_string(),
            logical_id: e.logical_id.clone(),
            resource_type: e.resource_type.clone(),
            status: e.status.clone(),
            reason: e.reason.clone().unwrap_or_default(),
            at: Time(e.at_ms),
        })
        .collect();
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn res(id: &str, ty: &str) -> Resource {
        Resource {
            logical_id: id.into(),
            resource_type: ty.into(),
            physical_id: Some(format!("{id}-physical")),
        }
    }

    #[test]
    fn the_deletion_policy_decides_what_stays() {
        let template = json!({"Resources": {
            "Storage": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"},
            "Db": {"Type": "AWS::RDS::DBCluster", "DeletionPolicy": "Snapshot"},
            "Logs": {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": "RetainExceptOnCreate"},
            // UpdateReplacePolicy alone keeps nothing on a stack delete.
            "App": {"Type": "AWS::S3::Bucket", "UpdateReplacePolicy": "Retain"},
            "Vpc": {"Type": "AWS::EC2::VPC"},
        }});
        let s = split(
            vec![
                (res("Storage", "AWS::S3::Bucket"), "CREATE_COMPLETE".into()),
                (res("Db", "AWS::RDS::DBCluster"), "UPDATE_COMPLETE".into()),
                (res("Logs", "AWS::Logs::LogGroup"), "CREATE_COMPLETE".into()),
                (res("App", "AWS::S3::Bucket"), "CREATE_COMPLETE".into()),
                (res("Vpc", "AWS::EC2::VPC"), "CREATE_COMPLETE".into()),
                // Gone already (a failed delete run again): neither deleted nor kept.
                (res("Old", "AWS::EC2::Subnet"), "DELETE_COMPLETE".into()),
            ],
            &template,
        );
        let ids = |v: &[Resource]| v.iter().map(|r| r.logical_id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&s.deleted), ["Db", "App", "Vpc"]);
        let kept: Vec<(&str, Kept)> = s
            .kept
            .iter()
            .map(|(r, k)| (r.logical_id.as_str(), *k))
            .collect();
        assert_eq!(
            kept,
            [
                ("Storage", Kept::Retain),
                ("Db", Kept::Snapshot),
                ("Logs", Kept::Retain)
            ]
        );
    }

    #[test]
    fn an_unreadable_template_deletes_everything() {
        let s = split(
            vec![(res("Storage", "AWS::S3::Bucket"), "CREATE_COMPLETE".into())],
            &Value::Null,
        );
        assert_eq!(s.deleted.len(), 1);
        assert!(s.kept.is_empty());
    }

    fn event(logical: &str, status: &str, at: i64, reason: Option<&str>) -> StackEventRecord {
        StackEventRecord {
            event_id: format!("{logical}-{status}-{at}"),
            stack_id: "arn:stack/S/1".into(),
            stack_name: "S".into(),
            logical_id: logical.into(),
            physical_id: Some(if logical == "S" {
                "arn:stack/S/1".into()
            } else {
                format!("{logical}-p")
            }),
            resource_type: if logical == "S" {
                super::super::cfn::STACK_TYPE.into()
            } else {
                "AWS::S3::Bucket".into()
            },
            status: status.into(),
            reason: reason.map(str::to_string),
            at_ms: at,
            client_request_token: None,
        }
    }

    #[test]
    fn failures_are_this_deletes_own_oldest_first() {
        // Newest first, as DescribeStackEvents returns them.
        let events = vec![
            event(
                "S",
                "DELETE_FAILED",
                40,
                Some("The following resource(s) failed to delete: [A, B]"),
            ),
            event("B", "DELETE_FAILED", 31, Some("in use")),
            event(
                "A",
                "DELETE_FAILED",
                30,
                Some("The bucket you tried to delete is not empty"),
            ),
            event("S", "DELETE_IN_PROGRESS", 20, None),
            // An earlier delete's failure: not this one's.
            event("C", "DELETE_FAILED", 5, Some("old")),
        ];
        assert_eq!(delete_began(&events), Some(20));
        let f = failures("S", &events, 20);
        let got: Vec<(&str, &str)> = f
            .iter()
            .map(|f| (f.logical_id.as_str(), f.reason.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("A", "The bucket you tried to delete is not empty"),
                ("B", "in use")
            ]
        );
    }

    mod deleting {
        use std::sync::Arc;

        use super::super::*;
        use crate::deploy::testkit::*;

        const S: &str = "MedplumProd-us-east-1";

        fn target() -> StackRef {
            StackRef {
                name: S.into(),
                region: "us-east-1".into(),
                status: "CREATE_COMPLETE".into(),
            }
        }

        async fn run(
            cfn: &FakeCfn,
            clock: &FakeClock,
        ) -> (Result<StackEnd, DestroyError>, Vec<DeployEvent>) {
            let (sink, mut rx) = DeploySink::channel();
            let end = delete_stack(
                cfn,
                clock,
                &sink,
                &target(),
                Some("arn:aws:iam::123456789012:role/cfn"),
                &Cancel::new(),
                Duration::from_secs(600),
                10,
            )
            .await;
            drop(sink);
            (end, std::iter::from_fn(|| rx.try_recv().ok()).collect())
        }

        #[tokio::test]
        async fn a_deployed_stack_is_deleted_as_the_role_and_followed_to_the_end() {
            let clock = FakeClock::at(T0);
            let cfn = FakeCfn::new("us-east-1", clock.clone(), Script::default())
                .with_stack(S, "UPDATE_COMPLETE");
            let (end, events) = run(&cfn, &clock).await;
            assert_eq!(end.unwrap(), StackEnd::Deleted);
            assert_eq!(
                *cfn.delete_roles.lock().unwrap(),
                [Some("arn:aws:iam::123456789012:role/cfn".to_string())]
            );
            assert!(events.iter().any(|e| matches!(e,
                DeployEvent::StackFinished { status, ok: true, .. } if status == "DELETE_COMPLETE")));
        }

        #[tokio::test]
        async fn a_delete_already_running_is_followed_not_started_again() {
            let clock = FakeClock::at(T0);
            let cfn = Arc::new(
                FakeCfn::new("us-east-1", clock.clone(), Script::default())
                    .with_stack(S, "CREATE_COMPLETE")
                    .with_running(
                        S,
                        5.0,
                        &[
                            stack_ev(0.0, "DELETE_IN_PROGRESS", Some("User Initiated")),
                            stack_ev(30.0, "DELETE_COMPLETE", None),
                        ],
                    ),
            );
            let (end, events) = run(&cfn, &clock).await;
            assert_eq!(end.unwrap(), StackEnd::Deleted);
            assert!(
                !cfn.calls().iter().any(|c| c.starts_with("DeleteStack")),
                "{:?}",
                cfn.calls()
            );
            assert!(events.iter().any(|e| matches!(e, DeployEvent::Attaching { status, .. } if status == "DELETE_IN_PROGRESS")));
        }

        #[tokio::test]
        async fn a_stack_already_gone_is_skipped() {
            let clock = FakeClock::at(T0);
            let cfn = FakeCfn::new("us-east-1", clock.clone(), Script::default());
            let (end, _) = run(&cfn, &clock).await;
            assert_eq!(end.unwrap(), StackEnd::AlreadyGone);
            assert!(!cfn.calls().iter().any(|c| c.starts_with("DeleteStack")));
        }

        #[tokio::test]
        async fn a_failed_delete_reports_the_resources_and_reasons() {
            let clock = FakeClock::at(T0);
            let script = Script {
                cancel: vec![
                    stack_ev(0.0, "DELETE_IN_PROGRESS", Some("User Initiated")),
                    ev(
                        2.0,
                        "Storage",
                        "AWS::S3::Bucket",
                        "DELETE_IN_PROGRESS",
                        None,
                    ),
                    ev(
                        4.0,
                        "Storage",
                        "AWS::S3::Bucket",
                        "DELETE_FAILED",
                        Some("The bucket you tried to delete is not empty"),
                    ),
                    stack_ev(
                        5.0,
                        "DELETE_FAILED",
                        Some("The following resource(s) failed to delete: [Storage]."),
                    ),
                ],
                ..Script::default()
            };
            let cfn =
                FakeCfn::new("us-east-1", clock.clone(), script).with_stack(S, "CREATE_COMPLETE");
            let (end, _) = run(&cfn, &clock).await;
            let Err(DestroyError::DeleteFailed { failures, .. }) = end else {
                panic!("{end:?}")
            };
            let got: Vec<(&str, &str)> = failures
                .iter()
                .map(|f| (f.logical_id.as_str(), f.reason.as_str()))
                .collect();
            assert_eq!(
                got,
                [("Storage", "The bucket you tried to delete is not empty")]
            );
            assert_eq!(
                DestroyError::DeleteFailed {
                    stack: S.into(),
                    failures
                }
                .outcome(),
                Outcome::Failed
            );
        }
    }
}
