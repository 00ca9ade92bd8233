//! The CloudFront half of the signing key: register the public key (finding it first, so a
//! repeat never makes a duplicate), and adopt a key that Medplum's own init registered.

use aws_sdk_cloudfront::types::PublicKeyConfig;

use super::{ID, KeyRecord, caller_reference, key_name};
use crate::aws::AwsError;
use crate::config::US_EAST_1;
use crate::config::server::parameter_name;
use crate::crypto::keypair::{public_key_fingerprint, same_public_key};
use crate::engine::{Ctx, JournalError, StepError};
use crate::steps::ssm;

/// Where the journal keeps the record of a key being registered: the signing key step's own
/// record, or the new key of a rotation (`crate::rotate`).
pub trait KeyStore: Send + Sync {
    fn get(&self, ctx: &Ctx) -> Result<KeyRecord, JournalError>;
    fn update(&self, ctx: &Ctx, f: &mut dyn FnMut(&mut KeyRecord)) -> Result<(), JournalError>;
}

/// The signing key step's record.
pub struct StepRecord;

impl KeyStore for StepRecord {
    fn get(&self, ctx: &Ctx) -> Result<KeyRecord, JournalError> {
        Ok(ctx.journal.data(ID)?.unwrap_or_default())
    }
    fn update(&self, ctx: &Ctx, f: &mut dyn FnMut(&mut KeyRecord)) -> Result<(), JournalError> {
        ctx.journal.update::<KeyRecord, _>(ID, |r| f(r)).map(|_| ())
    }
}

/// A key written by Medplum's own init: SSM has `signingKeyId`, and CloudFront has that key.
pub(super) async fn adopt_legacy_key(ctx: &Ctx) -> Result<Option<String>, StepError> {
    let id_name = parameter_name(ctx.env(), "signingKeyId");
    let ids = ssm::get_many(ctx, ID, std::slice::from_ref(&id_name)).await?;
    let Some(id) = ids.get(&id_name).map(|c| c.value.expose().to_string()) else {
        return Ok(None);
    };
    let cf = ctx.aws()?.cloudfront();
    let RegisteredKey { pem, name, .. } = match registered_key(ctx, &cf, &id).await {
        Ok(k) => k,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let fp = public_key_fingerprint(&pem)?;
    ctx.events.progress(
        ID,
        format!("adopting the existing key {id} written by Medplum's init"),
    );
    ctx.journal.update::<KeyRecord, _>(ID, |r| {
        *r = KeyRecord {
            fingerprint: Some(fp),
            public_key_pem: Some(pem.clone()),
            stored_in_ssm: true,
            caller_reference: None,
            key_name: name,
            key_id: Some(id),
        };
    })?;
    Ok(Some(pem))
}

/// A public key as CloudFront holds it.
pub struct RegisteredKey {
    pub pem: String,
    pub name: Option<String>,
    /// What DeletePublicKey needs in If-Match.
    pub etag: Option<String>,
}

/// GetPublicKey for `id`.
pub async fn registered_key(
    ctx: &Ctx,
    cf: &aws_sdk_cloudfront::Client,
    id: &str,
) -> Result<RegisteredKey, AwsError> {
    let key = ctx
        .call(
            ID,
            "cloudfront",
            "GetPublicKey",
            US_EAST_1,
            id,
            cf.get_public_key().id(id).send(),
        )
        .await?;
    let config = key.public_key().and_then(|k| k.public_key_config());
    Ok(RegisteredKey {
        pem: config
            .map(|c| c.encoded_key().to_string())
            .unwrap_or_default(),
        name: config.map(|c| c.name().to_string()),
        etag: key.e_tag().map(str::to_string),
    })
}

/// Finds or registers the public key in CloudFront; returns its id and whether it was created.
/// `store` is the record the CallerReference and the id go to.
pub async fn ensure_cloudfront_key(
    ctx: &Ctx,
    public_pem: &str,
    store: &dyn KeyStore,
) -> Result<(String, bool), StepError> {
    let cf = ctx.aws()?.cloudfront();
    let record: KeyRecord = store.get(ctx)?;
    if let Some(id) = &record.key_id {
        match registered_key(ctx, &cf, id).await {
            Ok(k) => {
                if same_public_key(&k.pem, public_pem).unwrap_or(false) {
                    return Ok((id.clone(), false));
                }
                ctx.events.warn(
                    ID,
                    format!(
                        "CloudFront key {id} holds other key material; registering the key from SSM"
                    ),
                    None,
                );
            }
            Err(e) if e.is_not_found() => ctx.events.warn(
                ID,
                format!("CloudFront key {id} was deleted; registering the key again"),
                None,
            ),
            Err(e) => return Err(e.into()),
        }
    }
    // Look before creating: a crash after CreatePublicKey but before the journal write left the
    // key there, and a second create would make a duplicate (moto always does; AWS does when the
    // CallerReference differs).
    let existing = list_keys(ctx, &cf).await?;
    if let Some(found) = existing
        .iter()
        .find(|k| same_public_key(&k.encoded, public_pem).unwrap_or(false))
    {
        store.update(ctx, &mut |r| {
            r.key_id = Some(found.id.clone());
            r.key_name = Some(found.name.clone());
        })?;
        return Ok((found.id.clone(), false));
    }
    let fp = public_key_fingerprint(public_pem)?;
    let base = key_name(ctx.answers.stack_name());
    // Key names are unique per account; an older key (a rotation, Medplum's init) may hold it.
    let name = if existing.iter().any(|k| k.name == base) {
        format!("{base}-{}", &fp[..8])
    } else {
        base
    };
    let reference = record
        .caller_reference
        .clone()
        .filter(|_| record.fingerprint.as_deref() == Some(fp.as_str()))
        .unwrap_or_else(|| caller_reference(ctx.env(), &fp));
    store.update(ctx, &mut |r| {
        r.caller_reference = Some(reference.clone());
        r.key_name = Some(name.clone());
    })?;
    let config = PublicKeyConfig::builder()
        .caller_reference(&reference)
        .name(&name)
        .encoded_key(public_pem)
        .comment(format!(
            "Medplum storage signing key for {} (medplum-init)",
            ctx.env()
        ))
        .build()
        .map_err(|e| StepError::failed(e.to_string(), None))?;
    let created = ctx
        .call(
            ID,
            "cloudfront",
            "CreatePublicKey",
            US_EAST_1,
            &name,
            cf.create_public_key().public_key_config(config).send(),
        )
        .await;
    let id = match created {
        Ok(out) => out
            .public_key()
            .map(|k| k.id().to_string())
            .unwrap_or_default(),
        Err(e) if e.kind == crate::aws::AwsErrorKind::AlreadyExists => {
            // The same CallerReference was used by a create whose answer we never saw.
            let again = list_keys(ctx, &cf).await?;
            again
                .into_iter()
                .find(|k| same_public_key(&k.encoded, public_pem).unwrap_or(false))
                .map(|k| k.id)
                .ok_or_else(|| {
                    StepError::failed(
                        format!(
                            "CloudFront says key {name} exists, but none holds our key material"
                        ),
                        Some("delete the stale key or rename it, then re-run".into()),
                    )
                })?
        }
        Err(e) => return Err(e.into()),
    };
    if id.is_empty() {
        return Err(StepError::failed("CloudFront returned no key id", None));
    }
    store.update(ctx, &mut |r| r.key_id = Some(id.clone()))?;
    Ok((id, true))
}

struct KeySummary {
    id: String,
    name: String,
    encoded: String,
}

async fn list_keys(
    ctx: &Ctx,
    cf: &aws_sdk_cloudfront::Client,
) -> Result<Vec<KeySummary>, StepError> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let res = ctx
            .call(
                ID,
                "cloudfront",
                "ListPublicKeys",
                US_EAST_1,
                "public keys",
                cf.list_public_keys()
                    .set_marker(marker.clone())
                    .max_items(100)
                    .send(),
            )
            .await?;
        let Some(list) = res.public_key_list() else {
            break;
        };
        out.extend(list.items().iter().map(|k| KeySummary {
            id: k.id().to_string(),
            name: k.name().to_string(),
            encoded: k.encoded_key().to_string(),
        }));
        marker = list
            .next_marker()
            .filter(|m| !m.is_empty())
            .map(str::to_string);
        if marker.is_none() {
            break;
        }
    }
    Ok(out)
}
