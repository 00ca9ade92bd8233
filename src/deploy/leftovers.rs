//! What a cancelled first create leaves behind, and its removal.
//!
//! Ctrl-C during a create deletes the half-made stack (CloudFormation has no way to cancel a
//! create). A delete honours `DeletionPolicy: Retain`, so the storage bucket, which Medplum's
//! stack retains under a fixed name (`storage.<domain>`), outlives the stack, and the next create
//! fails on "already exists". `RetainExceptOnCreate` covers rollbacks, not deletes. A bucket
//! that the cancelled create itself made seconds ago, and that holds nothing, is ours to remove;
//! one that holds anything (any object version) is kept and reported, never emptied.

use async_trait::async_trait;

use super::cfn::{CloudFormation, StackEventRecord};
use crate::aws::{AwsClients, AwsError};

/// A bucket the delete kept (`DELETE_SKIPPED`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retained {
    pub logical_id: String,
    pub bucket: String,
}

/// What became of a retained bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    Removed,
    /// It holds objects (or versions): kept, untouched.
    NotEmpty,
    /// Already gone.
    Missing,
}

/// Removes a bucket when it holds nothing.
#[async_trait]
pub trait EmptyBuckets: Send + Sync {
    async fn remove_if_empty(&self, region: &str, bucket: &str) -> Result<Removal, AwsError>;
}

/// The S3 buckets a stack operation kept on delete, from its events since `since_ms`.
pub fn retained_buckets(events: &[StackEventRecord], since_ms: i64) -> Vec<Retained> {
    let mut out: Vec<Retained> = events
        .iter()
        .filter(|e| e.at_ms >= since_ms && e.status == "DELETE_SKIPPED")
        .filter(|e| e.resource_type == "AWS::S3::Bucket")
        .filter_map(|e| {
            Some(Retained {
                logical_id: e.logical_id.clone(),
                bucket: e.physical_id.clone().filter(|p| !p.is_empty())?,
            })
        })
        .collect();
    out.sort_by(|a, b| a.logical_id.cmp(&b.logical_id));
    out.dedup();
    out
}

/// Every event of `stack_id` (all pages), newest first.
pub async fn all_events(
    cfn: &dyn CloudFormation,
    stack_id: &str,
) -> Result<Vec<StackEventRecord>, AwsError> {
    let mut events = Vec::new();
    let mut token = None;
    loop {
        let page = cfn.stack_events(stack_id, token).await?;
        events.extend(page.events);
        match page.next_token {
            Some(t) => token = Some(t),
            None => return Ok(events),
        }
    }
}

/// [`EmptyBuckets`] over S3: ListObjectVersions (one key is enough to know), then DeleteBucket.
pub struct S3EmptyBuckets {
    aws: AwsClients,
}

impl S3EmptyBuckets {
    pub fn new(aws: AwsClients) -> Self {
        Self { aws }
    }
}

#[async_trait]
impl EmptyBuckets for S3EmptyBuckets {
    async fn remove_if_empty(&self, region: &str, bucket: &str) -> Result<Removal, AwsError> {
        let s3 = self.aws.s3(region);
        let listed = s3
            .list_object_versions()
            .bucket(bucket)
            .max_keys(1)
            .send()
            .await;
        let listed = match listed {
            Ok(l) => l,
            Err(e) => {
                let err = AwsError::from_sdk("s3", "ListObjectVersions", &e);
                return if err.is_not_found() {
                    Ok(Removal::Missing)
                } else {
                    Err(err)
                };
            }
        };
        if !listed.versions().is_empty() || !listed.delete_markers().is_empty() {
            return Ok(Removal::NotEmpty);
        }
        match s3.delete_bucket().bucket(bucket).send().await {
            Ok(_) => Ok(Removal::Removed),
            Err(e) => {
                let err = AwsError::from_sdk("s3", "DeleteBucket", &e);
                if err.is_not_found() {
                    Ok(Removal::Missing)
                } else {
                    Err(err)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(
        logical: &str,
        ty: &str,
        status: &str,
        physical: &str,
        at_ms: i64,
    ) -> StackEventRecord {
        StackEventRecord {
            event_id: format!("{logical}-{status}-{at_ms}"),
            stack_id: "arn:stack/S/1".into(),
            stack_name: "S".into(),
            logical_id: logical.into(),
            physical_id: Some(physical.into()),
            resource_type: ty.into(),
            status: status.into(),
            reason: None,
            at_ms,
            client_request_token: None,
        }
    }

    #[test]
    fn only_buckets_skipped_by_this_operation_count() {
        let events = vec![
            event(
                "Storage",
                "AWS::S3::Bucket",
                "DELETE_SKIPPED",
                "storage.example.com",
                20,
            ),
            event(
                "Storage",
                "AWS::S3::Bucket",
                "CREATE_COMPLETE",
                "storage.example.com",
                10,
            ),
            // Kept by an earlier delete of another stack operation: not ours to touch.
            event(
                "Old",
                "AWS::S3::Bucket",
                "DELETE_SKIPPED",
                "old.example.com",
                5,
            ),
            // Not a bucket.
            event("Db", "AWS::RDS::DBCluster", "DELETE_SKIPPED", "db", 21),
            // Deleted, not kept.
            event(
                "App",
                "AWS::S3::Bucket",
                "DELETE_COMPLETE",
                "app.example.com",
                22,
            ),
            // Never made: no physical id.
            event("Logs", "AWS::S3::Bucket", "DELETE_SKIPPED", "", 23),
        ];
        assert_eq!(
            retained_buckets(&events, 10),
            vec![Retained {
                logical_id: "Storage".into(),
                bucket: "storage.example.com".into()
            }]
        );
    }
}
