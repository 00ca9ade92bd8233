//! Publishes the bot Lambda layer, `medplum-bot-layer` (nodejs22.x), from a zip the user built
//! with Medplum's `deploy-bot-layer.sh`, unless the newest version already has the same code.
//! The server picks the newest version, and its IAM policy names the layer, so the name is fixed.

use async_trait::async_trait;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{LayerVersionContentInput, Runtime};
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::engine::{Ctx, Outcome, PlannedCall, Step, StepError, StepId};

const ID: StepId = StepId::BotLayer;
pub const LAYER_NAME: &str = "medplum-bot-layer";
/// PublishLayerVersion takes at most 50 MB inline.
const MAX_INLINE: u64 = 50 * 1024 * 1024;

pub struct BotLayer;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Record {
    pub version_arn: String,
    pub code_sha256: String,
}

/// Lambda's CodeSha256: base64 of the SHA-256 of the zip.
pub fn code_sha256(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
}

#[async_trait]
impl Step for BotLayer {
    fn id(&self) -> StepId {
        ID
    }

    fn validate(&self, ctx: &Ctx) -> Result<(), StepError> {
        let Some(zip) = &ctx.answers.bot_layer_zip else {
            return Ok(());
        };
        let path = ctx.dir.join(zip);
        let meta = std::fs::metadata(&path).map_err(|e| {
            StepError::invalid(
                format!("bot_layer.zip: cannot read {}: {e}", path.display()),
                "build the zip with Medplum's scripts/deploy-bot-layer.sh, or remove [bot_layer]",
            )
        })?;
        if meta.len() > MAX_INLINE {
            return Err(StepError::invalid(
                format!(
                    "bot_layer.zip: {} is {} MB",
                    path.display(),
                    meta.len() / 1_048_576
                ),
                "Lambda takes layers of at most 50 MB; leave out optional dependencies",
            ));
        }
        Ok(())
    }

    fn plan(&self, ctx: &Ctx) -> Vec<PlannedCall> {
        if ctx.answers.bot_layer_zip.is_none() {
            return Vec::new();
        }
        let r = ctx.region();
        vec![
            PlannedCall::read("lambda", "ListLayerVersions", r, LAYER_NAME),
            PlannedCall::read(
                "lambda",
                "GetLayerVersion",
                r,
                format!("{LAYER_NAME}, newest version"),
            ),
            PlannedCall::write("lambda", "PublishLayerVersion", r, LAYER_NAME)
                .when("when the newest version's code differs"),
        ]
    }

    async fn apply(&self, ctx: &Ctx) -> Result<Outcome, StepError> {
        let Some(zip) = &ctx.answers.bot_layer_zip else {
            return Ok(Outcome::Skipped);
        };
        let bytes = read_zip(ctx, zip)?;
        let sha = code_sha256(&bytes);
        if let Some((version, arn)) = newest_with(ctx, &sha).await? {
            ctx.events.progress(
                ID,
                format!("{LAYER_NAME} version {version} already has this code"),
            );
            ctx.journal.update::<Record, _>(ID, |rec| {
                rec.version_arn = arn;
                rec.code_sha256 = sha.clone();
            })?;
            return Ok(Outcome::Unchanged);
        }
        let lambda = ctx.aws()?.lambda();
        let r = ctx.region().to_string();
        let out = ctx
            .call(
                ID,
                "lambda",
                "PublishLayerVersion",
                &r,
                LAYER_NAME,
                lambda
                    .publish_layer_version()
                    .layer_name(LAYER_NAME)
                    .description("Medplum Bot Layer")
                    .license_info("Apache-2.0")
                    .compatible_runtimes(Runtime::Nodejs22x)
                    .content(
                        LayerVersionContentInput::builder()
                            .zip_file(Blob::new(bytes))
                            .build(),
                    )
                    .customize()
                    // Up to 50 MB in one request: the control-plane attempt limit would cut a
                    // slow uplink off and start the upload over.
                    .config_override(
                        aws_sdk_lambda::config::Builder::default()
                            .timeout_config(ctx.aws()?.timeouts().upload_config()),
                    )
                    .send(),
            )
            .await?;
        let arn = out.layer_version_arn().unwrap_or_default().to_string();
        ctx.events.progress(ID, format!("published {arn}"));
        ctx.journal.update::<Record, _>(ID, |rec| {
            rec.version_arn = arn;
            rec.code_sha256 = sha;
        })?;
        Ok(Outcome::Done)
    }
}

fn read_zip(ctx: &Ctx, zip: &std::path::Path) -> Result<Vec<u8>, StepError> {
    let path = ctx.dir.join(zip);
    std::fs::read(&path).map_err(|e| {
        StepError::invalid(
            format!("bot_layer.zip: cannot read {}: {e}", path.display()),
            "check the path",
        )
    })
}

/// The newest version of the layer, with its ARN, when it holds the code whose hash is `sha`.
async fn newest_with(ctx: &Ctx, sha: &str) -> Result<Option<(i64, String)>, StepError> {
    let lambda = ctx.aws()?.lambda();
    let r = ctx.region().to_string();
    let list = ctx
        .call(
            ID,
            "lambda",
            "ListLayerVersions",
            &r,
            LAYER_NAME,
            lambda.list_layer_versions().layer_name(LAYER_NAME).send(),
        )
        .await;
    let newest = match list {
        Ok(l) => l
            .layer_versions()
            .iter()
            .max_by_key(|v| v.version())
            .map(|v| v.version()),
        Err(e) if e.is_not_found() => None,
        Err(e) => return Err(e.into()),
    };
    let Some(version) = newest else {
        return Ok(None);
    };
    let v = ctx
        .call(
            ID,
            "lambda",
            "GetLayerVersion",
            &r,
            &format!("{LAYER_NAME}:{version}"),
            lambda
                .get_layer_version()
                .layer_name(LAYER_NAME)
                .version_number(version)
                .send(),
        )
        .await?;
    Ok(
        (v.content().and_then(|c| c.code_sha256()) == Some(sha)).then(|| {
            (
                version,
                v.layer_version_arn().unwrap_or_default().to_string(),
            )
        }),
    )
}

/// For a step's plan, read only: whether a run would publish a new layer version (`None`: the
/// answers name no zip).
pub async fn would_publish(ctx: &Ctx) -> Result<Option<bool>, StepError> {
    let Some(zip) = &ctx.answers.bot_layer_zip else {
        return Ok(None);
    };
    let bytes = read_zip(ctx, zip)?;
    Ok(Some(
        newest_with(ctx, &code_sha256(&bytes)).await?.is_none(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_hash_is_base64_sha256() {
        // printf 'abc' | openssl dgst -sha256 -binary | base64
        assert_eq!(
            code_sha256(b"abc"),
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
    }
}
