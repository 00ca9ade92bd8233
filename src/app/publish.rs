//! Putting the site into the app bucket and making CloudFront serve it.
//!
//! - [`find_target`]: the bucket and distribution from the stacks' resources (logical IDs
//!   `FrontEndAppBucket…` and `FrontEndAppDistribution…`, as the CDK names them and as Medplum's
//!   CLI finds them), in the primary stack and, outside us-east-1, its `-us-east-1` companion.
//! - [`plan`]: what the bucket already holds (ListObjectsV2's ETag is the MD5 of a single-part
//!   PutObject) against the site: only new or changed objects are uploaded, objects the site no
//!   longer has are removed. Pure.
//! - [`apply`]: uploads in an order a visitor never notices (every asset, then `index.html`, so
//!   the index never points at an asset not there yet), then removes stale objects (the new
//!   index no longer names them), then one invalidation of the changed paths, whose
//!   CallerReference is derived from them, so a repeated call creates no second invalidation.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use sha2::{Digest, Sha256};

use super::site::{INDEX, Object, Site, hex};
use super::{AppError, Progress};
use crate::aws::{AwsClients, AwsError};
use crate::config::US_EAST_1;
use crate::config::infra::InfraConfig;
use crate::engine::Cancel;

pub const BUCKET_PREFIX: &str = "FrontEndAppBucket";
pub const DISTRIBUTION_PREFIX: &str = "FrontEndAppDistribution";
/// More changed paths than this are invalidated as `/*` (one path for CloudFront's quota).
pub const MAX_PATHS: usize = 15;
/// The longest the publish waits for the invalidation.
pub const INVALIDATION_TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// Where the app goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub bucket: String,
    pub bucket_region: String,
    /// `None` when the stacks have no distribution (the bucket alone is still published).
    pub distribution: Option<String>,
}

/// The stacks to look in: the primary, then (outside us-east-1) the companion.
pub fn stacks(config: &InfraConfig) -> Vec<(String, String)> {
    let mut v = vec![(config.stack_name.clone(), config.region.clone())];
    if config.region != US_EAST_1 {
        v.push((
            crate::deploy::templates::companion_name(config),
            US_EAST_1.to_string(),
        ));
    }
    v
}

pub async fn find_target(aws: &AwsClients, config: &InfraConfig) -> Result<Target, AppError> {
    let mut bucket = None;
    let mut distribution = None;
    let all = stacks(config);
    for (i, (stack, region)) in all.iter().enumerate() {
        let resources = match crate::deploy::environments::stack_resources(aws, region, stack).await
        {
            Ok(r) => r,
            // The companion may not exist (yet); the primary must.
            Err(e) if i > 0 => {
                tracing::debug!("no resources read from {stack}: {e}");
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        for (logical, kind, physical) in resources {
            if kind == "AWS::S3::Bucket" && logical.starts_with(BUCKET_PREFIX) && bucket.is_none() {
                bucket = Some((physical, region.clone()));
            } else if kind == "AWS::CloudFront::Distribution"
                && logical.starts_with(DISTRIBUTION_PREFIX)
                && distribution.is_none()
            {
                distribution = Some(physical);
            }
        }
    }
    let Some((bucket, bucket_region)) = bucket else {
        return Err(AppError::NoBucket {
            stacks: all
                .iter()
                .map(|(s, r)| format!("{s} ({r})"))
                .collect::<Vec<_>>()
                .join(", "),
        });
    };
    Ok(Target {
        bucket,
        bucket_region,
        distribution,
    })
}

/// Key to ETag (quotes removed) of every object in the bucket.
pub async fn remote_objects(
    aws: &AwsClients,
    target: &Target,
) -> Result<BTreeMap<String, String>, AppError> {
    let s3 = aws.s3(&target.bucket_region);
    let mut out = BTreeMap::new();
    let mut token: Option<String> = None;
    loop {
        let page = s3
            .list_objects_v2()
            .bucket(&target.bucket)
            .set_continuation_token(token.take())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("s3", "ListObjectsV2", &e))?;
        for o in page.contents() {
            if let Some(k) = o.key() {
                out.insert(
                    k.to_string(),
                    o.e_tag().unwrap_or_default().trim_matches('"').to_string(),
                );
            }
        }
        match page.next_continuation_token() {
            Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_string()),
            _ => return Ok(out),
        }
    }
}

/// What a publish does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// In upload order: every other object first (by key), `index.html` last.
    pub uploads: Vec<Object>,
    /// Keys already in the bucket with the same content.
    pub unchanged: Vec<String>,
    /// Keys in the bucket the site no longer has, removed after the new index is live.
    pub deletes: Vec<String>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.uploads.is_empty() && self.deletes.is_empty()
    }

    /// The paths CloudFront must forget: every uploaded and removed object (`/` too when the
    /// index changes: the distribution's default root object).
    pub fn changed_paths(&self) -> Vec<String> {
        let mut paths: Vec<String> = self
            .uploads
            .iter()
            .map(|o| format!("/{}", o.key))
            .chain(self.deletes.iter().map(|k| format!("/{k}")))
            .collect();
        if self.uploads.iter().any(|o| o.key == INDEX) {
            paths.push("/".into());
        }
        paths.sort();
        paths
    }
}

pub fn plan(site: Site, remote: &BTreeMap<String, String>) -> Plan {
    let mut p = Plan::default();
    let mut index = None;
    for o in site.objects {
        if remote.get(&o.key) == Some(&o.md5) {
            p.unchanged.push(o.key);
        } else if o.key == INDEX {
            index = Some(o);
        } else {
            p.uploads.push(o);
        }
    }
    p.uploads.sort_by(|a, b| a.key.cmp(&b.key));
    p.uploads.extend(index);
    let keep: std::collections::BTreeSet<&str> = p
        .uploads
        .iter()
        .map(|o| o.key.as_str())
        .chain(p.unchanged.iter().map(String::as_str))
        .collect();
    p.deletes = remote
        .keys()
        .filter(|k| !keep.contains(k.as_str()))
        .cloned()
        .collect();
    p
}

/// What is to be invalidated: `/*` past [`MAX_PATHS`].
pub fn invalidation_paths(mut paths: Vec<String>) -> Vec<String> {
    paths.sort();
    paths.dedup();
    if paths.len() > MAX_PATHS {
        vec!["/*".into()]
    } else {
        paths
    }
}

/// The same paths on the same distribution give the same reference: CloudFront answers a
/// repeated CreateInvalidation with the first one instead of making another.
pub fn caller_reference(distribution: &str, paths: &[String], uploads: &[Object]) -> String {
    let mut h = Sha256::new();
    h.update(distribution.as_bytes());
    for p in paths {
        h.update(b"\n");
        h.update(p.as_bytes());
    }
    for o in uploads {
        h.update(b"\n");
        h.update(o.md5.as_bytes());
    }
    format!("medplum-init-{}", &hex(&h.finalize())[..32])
}

/// What was done.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Published {
    pub uploaded: Vec<String>,
    pub deleted: Vec<String>,
    pub invalidation: Option<String>,
    /// The invalidation's last status (`Completed` unless `--no-wait`).
    pub invalidation_status: Option<String>,
}

/// Uploads, removes, invalidates (see the module docs). `carried` are paths an earlier publish
/// changed but did not get invalidated (it was interrupted): they go into this invalidation.
pub async fn apply(
    aws: &AwsClients,
    target: &Target,
    plan: &Plan,
    carried: &[String],
    wait: bool,
    cancel: &Cancel,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<Published, AppError> {
    let s3 = aws.s3(&target.bucket_region);
    let mut done = Published::default();
    let total = plan.uploads.len();
    for (i, o) in plan.uploads.iter().enumerate() {
        let sha = hex(&Sha256::digest(&o.body));
        let put = s3
            .put_object()
            .bucket(&target.bucket)
            .key(&o.key)
            .content_type(o.content_type)
            .cache_control(o.cache_control)
            .metadata("sha256", sha)
            .body(ByteStream::from(o.body.clone()))
            .send();
        cancel
            .race(put)
            .await
            .ok_or(AppError::Interrupted)?
            .map_err(|e| AwsError::from_sdk("s3", "PutObject", &e))?;
        done.uploaded.push(o.key.clone());
        progress(Progress::Upload {
            key: o.key.clone(),
            done: i + 1,
            total,
        });
    }
    for key in &plan.deletes {
        let del = s3.delete_object().bucket(&target.bucket).key(key).send();
        cancel
            .race(del)
            .await
            .ok_or(AppError::Interrupted)?
            .map_err(|e| AwsError::from_sdk("s3", "DeleteObject", &e))?;
        done.deleted.push(key.clone());
        progress(Progress::Delete { key: key.clone() });
    }
    let mut paths = plan.changed_paths();
    paths.extend(carried.iter().cloned());
    let paths = invalidation_paths(paths);
    let Some(dist) = &target.distribution else {
        return Ok(done);
    };
    if paths.is_empty() {
        return Ok(done);
    }
    let cf = aws.cloudfront();
    let batch = aws_sdk_cloudfront::types::InvalidationBatch::builder()
        .paths(
            aws_sdk_cloudfront::types::Paths::builder()
                .quantity(paths.len() as i32)
                .set_items(Some(paths.clone()))
                .build()
                .map_err(|e| AppError::Corrupt(e.to_string()))?,
        )
        .caller_reference(caller_reference(dist, &paths, &plan.uploads))
        .build()
        .map_err(|e| AppError::Corrupt(e.to_string()))?;
    let out = cancel
        .race(
            cf.create_invalidation()
                .distribution_id(dist)
                .invalidation_batch(batch)
                .send(),
        )
        .await
        .ok_or(AppError::Interrupted)?
        .map_err(|e| AwsError::from_sdk("cloudfront", "CreateInvalidation", &e))?;
    let inv = out.invalidation();
    let id = inv.map(|i| i.id().to_string()).unwrap_or_default();
    let mut status = inv.map(|i| i.status().to_string()).unwrap_or_default();
    done.invalidation = Some(id.clone());
    progress(Progress::Invalidation {
        id: id.clone(),
        status: status.clone(),
    });
    let started = std::time::Instant::now();
    let mut delay = Duration::from_millis(500);
    while wait && !status.eq_ignore_ascii_case("Completed") {
        if started.elapsed() > INVALIDATION_TIMEOUT {
            done.invalidation_status = Some(status);
            return Err(AppError::InvalidationTimeout {
                id,
                seconds: INVALIDATION_TIMEOUT.as_secs(),
            });
        }
        if !cancel.sleep(delay).await {
            return Err(AppError::Interrupted);
        }
        delay = (delay * 2).min(Duration::from_secs(5));
        let got = cancel
            .race(cf.get_invalidation().distribution_id(dist).id(&id).send())
            .await
            .ok_or(AppError::Interrupted)?
            .map_err(|e| AwsError::from_sdk("cloudfront", "GetInvalidation", &e))?;
        status = got
            .invalidation()
            .map(|i| i.status().to_string())
            .unwrap_or_default();
        progress(Progress::Invalidation {
            id: id.clone(),
            status: status.clone(),
        });
    }
    done.invalidation_status = Some(status);
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::site::{self, Settings};

    fn site(files: &[(&str, &str)]) -> Site {
        site::build(
            files
                .iter()
                .map(|(p, b)| crate::app::package::File {
                    path: p.to_string(),
                    body: b.as_bytes().to_vec(),
                })
                .collect(),
            &Settings::default(),
        )
    }

    #[test]
    fn index_goes_last_unchanged_objects_are_skipped_and_stale_ones_removed() {
        let s = site(&[
            ("index.html", "i2"),
            ("assets/b-2.js", "b"),
            ("assets/a-1.js", "a"),
            ("robots.txt", "r"),
        ]);
        let robots_md5 = s
            .objects
            .iter()
            .find(|o| o.key == "robots.txt")
            .unwrap()
            .md5
            .clone();
        let remote = BTreeMap::from([
            ("robots.txt".to_string(), robots_md5),
            ("assets/old-0.js".to_string(), "x".to_string()),
            ("index.html".to_string(), "y".to_string()),
        ]);
        let p = plan(s, &remote);
        let keys: Vec<&str> = p.uploads.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, ["assets/a-1.js", "assets/b-2.js", "index.html"]);
        assert_eq!(p.unchanged, ["robots.txt"]);
        assert_eq!(p.deletes, ["assets/old-0.js"]);
        assert_eq!(
            p.changed_paths(),
            [
                "/",
                "/assets/a-1.js",
                "/assets/b-2.js",
                "/assets/old-0.js",
                "/index.html"
            ]
        );
    }

    #[test]
    fn the_same_site_twice_plans_nothing() {
        let s = site(&[("index.html", "i"), ("assets/a.js", "a")]);
        let remote: BTreeMap<String, String> = s
            .objects
            .iter()
            .map(|o| (o.key.clone(), o.md5.clone()))
            .collect();
        let p = plan(s, &remote);
        assert!(p.is_empty());
        assert!(p.changed_paths().is_empty());
    }

    #[test]
    fn many_paths_become_one_wildcard_and_the_reference_follows_the_content() {
        let many: Vec<String> = (0..20).map(|i| format!("/assets/{i}.js")).collect();
        assert_eq!(invalidation_paths(many), ["/*"]);
        let paths = vec!["/index.html".to_string()];
        let a = site(&[("index.html", "1")]).objects;
        let b = site(&[("index.html", "2")]).objects;
        assert_eq!(
            caller_reference("E1", &paths, &a),
            caller_reference("E1", &paths, &a)
        );
        assert_ne!(
            caller_reference("E1", &paths, &a),
            caller_reference("E1", &paths, &b)
        );
        assert_ne!(
            caller_reference("E1", &paths, &a),
            caller_reference("E2", &paths, &a)
        );
    }

    #[test]
    fn the_companion_is_looked_in_outside_us_east_1() {
        use crate::deploy::testkit::reference_config as config;
        assert_eq!(stacks(&config("us-east-1")).len(), 1);
        assert_eq!(
            stacks(&config("eu-west-1"))[1],
            (
                "MedplumStagingStack-us-east-1".to_string(),
                "us-east-1".to_string()
            )
        );
    }
}
