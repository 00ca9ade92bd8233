//! Parameter Store helpers shared by the signing-key and parameters steps.

use std::collections::BTreeMap;

use aws_sdk_ssm::types::{ParameterTier, ParameterType};

use crate::aws::AwsError;
use crate::crypto::Secret;
use crate::engine::{Ctx, StepId};

/// Standard parameters hold at most 4 KB; longer values need the Advanced tier.
pub const STANDARD_LIMIT: usize = 4096;
/// Advanced parameters hold at most 8 KB.
pub const ADVANCED_LIMIT: usize = 8192;

/// A parameter as it is in SSM now. The value is kept as a [`Secret`] because any of them may be.
#[derive(Debug, Clone)]
pub struct Current {
    pub value: Secret,
    pub kind: String,
    pub version: i64,
}

impl Current {
    /// A parameter from GetParameters or GetParametersByPath, keyed by its name.
    fn from_sdk(p: &aws_sdk_ssm::types::Parameter) -> Option<(String, Current)> {
        let current = Current {
            value: Secret::new(p.value()?.to_string()),
            kind: p
                .r#type()
                .map(|t| t.as_str().to_string())
                .unwrap_or_default(),
            version: p.version(),
        };
        Some((p.name()?.to_string(), current))
    }
}

/// Reads up to all `names` (GetParameters takes 10 at a time), decrypted. Missing names are absent
/// from the map.
pub async fn get_many(
    ctx: &Ctx,
    step: StepId,
    names: &[String],
) -> Result<BTreeMap<String, Current>, AwsError> {
    let ssm = ctx.aws().map_err(|_| offline())?.ssm();
    let mut out = BTreeMap::new();
    for chunk in names.chunks(10) {
        let label = if chunk.len() == 1 {
            chunk[0].clone()
        } else {
            format!("{} parameters", chunk.len())
        };
        let res = ctx
            .call(
                step,
                "ssm",
                "GetParameters",
                ctx.region(),
                &label,
                ssm.get_parameters()
                    .set_names(Some(chunk.to_vec()))
                    .with_decryption(true)
                    .send(),
            )
            .await?;
        out.extend(res.parameters().iter().filter_map(Current::from_sdk));
    }
    Ok(out)
}

/// Every parameter under `path` (one level, as the server reads it), decrypted.
pub async fn get_path(
    ctx: &Ctx,
    step: StepId,
    path: &str,
) -> Result<BTreeMap<String, Current>, AwsError> {
    let ssm = ctx.aws().map_err(|_| offline())?.ssm();
    let mut out = BTreeMap::new();
    let mut token: Option<String> = None;
    loop {
        let req = ssm
            .get_parameters_by_path()
            .path(path)
            .recursive(false)
            .with_decryption(true)
            .set_next_token(token.clone());
        let res = ctx
            .call(
                step,
                "ssm",
                "GetParametersByPath",
                ctx.region(),
                path,
                req.send(),
            )
            .await?;
        out.extend(res.parameters().iter().filter_map(Current::from_sdk));
        token = res.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    Ok(out)
}

pub fn tier_for(value: &str) -> ParameterTier {
    if value.len() > STANDARD_LIMIT {
        ParameterTier::Advanced
    } else {
        ParameterTier::Standard
    }
}

/// Writes one SecureString (KMS key `aws/ssm`, which the server's task role can read without an
/// extra grant). The value goes straight from the [`Secret`] into the request body.
///
/// A create (`overwrite` false) refused because the parameter exists is read back: when it holds
/// exactly `value`, the write had already happened (the SDK retried a call whose first answer
/// was lost) and its version is returned; any other value is the refusal it looks like.
pub async fn put_secure(
    ctx: &Ctx,
    step: StepId,
    name: &str,
    value: &Secret,
    overwrite: bool,
) -> Result<i64, AwsError> {
    let ssm = ctx.aws().map_err(|_| offline())?.ssm();
    let req = ssm
        .put_parameter()
        .name(name)
        .value(value.expose())
        .r#type(ParameterType::SecureString)
        .tier(tier_for(value.expose()))
        .overwrite(overwrite)
        .description("Written by medplum-init");
    match ctx
        .call(step, "ssm", "PutParameter", ctx.region(), name, req.send())
        .await
    {
        Ok(res) => Ok(res.version()),
        Err(e) if !overwrite && e.kind == crate::aws::AwsErrorKind::AlreadyExists => {
            let now = get_many(ctx, step, &[name.to_string()]).await?;
            match now.get(name) {
                Some(c) if c.value == *value && c.kind == "SecureString" => Ok(c.version),
                _ => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

fn offline() -> AwsError {
    AwsError {
        service: "ssm".into(),
        operation: "(offline)".into(),
        code: None,
        message: "no AWS access in a dry run".into(),
        kind: crate::aws::AwsErrorKind::Other,
    }
}
