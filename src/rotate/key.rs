//! The keys of a rotation: the new one made and registered (stage 1), written to SSM (stage 3),
//! and the old one deleted from CloudFront (stage 5). Every write is compare-before-write or
//! guarded by a journaled CallerReference, so a stage killed anywhere converges when re-run.
//!
//! The new private key and passphrase wait in [`PENDING_FILE`] (mode 0600, trusted only when it
//! holds the key whose fingerprint the journal recorded first) from their making until SSM holds
//! both; they never reach the journal, the log or the terminal.

use std::path::PathBuf;

use super::{JOURNAL_KEY, Rotation, Stage};
use crate::config::US_EAST_1;
use crate::config::server::parameter_name;
use crate::crypto::keypair::{public_pem_of_encrypted, same_public_key};
use crate::crypto::{SigningKeyPair, pending};
use crate::engine::journal::{prepare_state_dir, state_dir};
use crate::engine::{Ctx, JournalError, StepError, StepId};
use crate::steps::signing_key::KeyRecord;
use crate::steps::signing_key::cloudfront::{KeyStore, ensure_cloudfront_key, registered_key};
use crate::steps::ssm;

/// Where the new key waits for SSM, beside the journal.
pub const PENDING_FILE: &str = "rotating-signing-key.json";

/// Rotation calls are shown and journaled under the signing key's step.
const ID: StepId = StepId::SigningKey;

/// The rotation in the journal (an error when it does not parse: guessing would lose the new
/// key's CallerReference).
pub fn load(ctx: &Ctx) -> Result<Option<Rotation>, JournalError> {
    ctx.journal.extra_record(JOURNAL_KEY)
}

pub fn save(ctx: &Ctx, r: &Rotation) -> Result<(), JournalError> {
    ctx.journal.set_extra(JOURNAL_KEY, r)
}

fn required(ctx: &Ctx) -> Result<Rotation, StepError> {
    load(ctx)?.ok_or_else(|| StepError::failed("no rotation is in progress", None))
}

/// The new key's record inside the rotation's.
struct NextKey;

impl KeyStore for NextKey {
    fn get(&self, ctx: &Ctx) -> Result<KeyRecord, JournalError> {
        Ok(load(ctx)?.map(|r| r.next).unwrap_or_default())
    }
    fn update(&self, ctx: &Ctx, f: &mut dyn FnMut(&mut KeyRecord)) -> Result<(), JournalError> {
        let mut r = load(ctx)?.unwrap_or_default();
        f(&mut r.next);
        save(ctx, &r)
    }
}

pub fn pending_path(ctx: &Ctx) -> PathBuf {
    state_dir(&ctx.dir, ctx.env()).join(PENDING_FILE)
}

fn pending_pair(ctx: &Ctx, r: &Rotation) -> Result<Option<SigningKeyPair>, StepError> {
    pending::load(&pending_path(ctx), r.next.fingerprint.as_deref())
        .map_err(|e| StepError::invalid(e.to_string(), e.fix()))
}

/// Stage 1: makes the new key (or takes the one a killed run left) and registers its public
/// half in CloudFront. Returns the new key's id.
pub async fn register(ctx: &Ctx) -> Result<String, StepError> {
    let mut r = required(ctx)?;
    let pair = match pending_pair(ctx, &r)? {
        Some(p) => {
            ctx.events.progress(
                ID,
                format!(
                    "resuming with the new key {} made by an interrupted run",
                    &p.fingerprint()[..16]
                ),
            );
            p
        }
        None => {
            if let Some(id) = &r.next.key_id {
                return Err(StepError::failed(
                    format!(
                        "CloudFront key {id} was registered for this rotation, but its private half ({}) is gone",
                        pending_path(ctx).display()
                    ),
                    Some(format!(
                        "delete CloudFront key {id}, remove \"{JOURNAL_KEY}\" from the journal's \"extra\", and start the rotation again; the old key is still the one in use"
                    )),
                ));
            }
            let p = tokio::task::spawn_blocking(SigningKeyPair::generate)
                .await
                .map_err(|e| StepError::failed(e.to_string(), None))??;
            // The fingerprint goes to the journal before the file exists: a pending file is
            // trusted only when it holds the key recorded first.
            r.next = KeyRecord {
                fingerprint: Some(p.fingerprint()),
                public_key_pem: Some(p.public_pem.clone()),
                ..Default::default()
            };
            save(ctx, &r)?;
            prepare_state_dir(&ctx.dir, ctx.env())?;
            let path = pending_path(ctx);
            pending::save(&path, &p).map_err(|e| {
                StepError::failed(format!("cannot write {}: {e}", path.display()), None)
            })?;
            ctx.events.progress(
                ID,
                format!("generated a new RSA-2048 key {}", &p.fingerprint()[..16]),
            );
            p
        }
    };
    ctx.check_cancel()?;
    let (id, _) = ensure_cloudfront_key(ctx, &pair.public_pem, &NextKey).await?;
    let mut r = required(ctx)?;
    r.next.key_id = Some(id.clone());
    r.stage = Stage::Registered;
    save(ctx, &r)?;
    ctx.events
        .progress(ID, format!("registered CloudFront key {id}"));
    Ok(id)
}

/// Stage 3: SSM gets the new private key, passphrase and `signingKeyId` (compare before
/// write: after a crash some may be there already), checked by decrypting what SSM holds; the
/// signing key step's record becomes the new key's; the pending file goes.
pub async fn write(ctx: &Ctx) -> Result<(), StepError> {
    let r = required(ctx)?;
    let (Some(new_id), Some(new_pem)) = (r.next.key_id.clone(), r.next.public_key_pem.clone())
    else {
        return Err(StepError::failed(
            "the rotation's record lacks the new key id",
            None,
        ));
    };
    let names = [
        parameter_name(ctx.env(), "signingKeyPassphrase"),
        parameter_name(ctx.env(), "signingKey"),
        parameter_name(ctx.env(), "signingKeyId"),
    ];
    let current = ssm::get_many(ctx, ID, &names).await?;
    let in_ssm = |current: &std::collections::BTreeMap<String, ssm::Current>| match (
        current.get(&names[1]),
        current.get(&names[0]),
    ) {
        (Some(k), Some(p)) => public_pem_of_encrypted(&k.value, &p.value)
            .ok()
            .is_some_and(|pem| same_public_key(&pem, &new_pem).unwrap_or(false)),
        _ => false,
    };
    let mut id_version = current.get(&names[2]).map(|c| c.version);
    match pending_pair(ctx, &r)? {
        Some(pair) => {
            // The passphrase first: a private key in SSM always has its passphrase beside it.
            for (name, value) in [
                (&names[0], &pair.passphrase),
                (&names[1], &pair.private_pem),
            ] {
                if current.get(name).is_none_or(|c| c.value != *value) {
                    ssm::put_secure(ctx, ID, name, value, current.contains_key(name)).await?;
                }
            }
        }
        None if in_ssm(&current) => {}
        None => {
            return Err(StepError::failed(
                format!(
                    "the new key's private half is neither in {} nor in SSM",
                    pending_path(ctx).display()
                ),
                Some("the old key is still in use; see docs/operations.md, \"Rotating the signing key\", to start over".into()),
            ));
        }
    }
    let id_secret = crate::crypto::Secret::new(new_id.clone());
    if current.get(&names[2]).is_none_or(|c| c.value != id_secret) {
        id_version = Some(
            ssm::put_secure(
                ctx,
                ID,
                &names[2],
                &id_secret,
                current.contains_key(&names[2]),
            )
            .await?,
        );
    }
    let now = ssm::get_many(ctx, ID, &names).await?;
    if !in_ssm(&now) {
        return Err(StepError::failed(
            "the private key in SSM does not match the new public key",
            None,
        ));
    }
    ctx.journal
        .update::<KeyRecord, _>(StepId::SigningKey, |k| {
            *k = KeyRecord {
                stored_in_ssm: true,
                ..r.next.clone()
            };
        })?;
    if let Some(v) = id_version {
        ctx.journal
            .update::<crate::steps::parameters::Record, _>(StepId::Parameters, |p| {
                p.written.insert(names[2].clone(), v);
            })?;
    }
    pending::remove(&pending_path(ctx));
    let mut r = r;
    r.stage = Stage::Written;
    save(ctx, &r)?;
    ctx.events
        .progress(ID, format!("Parameter Store now holds key {new_id}"));
    Ok(())
}

/// Stage 5's last write: the old public key leaves CloudFront (GetPublicKey for the ETag, then
/// DeletePublicKey). Already gone is done.
pub async fn delete_old(ctx: &Ctx, id: &str) -> Result<(), StepError> {
    let cf = ctx.aws()?.cloudfront();
    let etag = match registered_key(ctx, &cf, id).await {
        Ok(k) => k.etag.unwrap_or_default(),
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let deleted = ctx
        .call(
            ID,
            "cloudfront",
            "DeletePublicKey",
            US_EAST_1,
            id,
            cf.delete_public_key().id(id).if_match(etag).send(),
        )
        .await;
    match deleted {
        Ok(_) => {
            ctx.events
                .progress(ID, format!("deleted the old CloudFront key {id}"));
            Ok(())
        }
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e.into()),
    }
}
