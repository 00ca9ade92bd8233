//! The CloudFront signing key: Medplum's server signs storage URLs with the private half; the
//! storage distribution trusts the public half through a key group.
//!
//! Order of writes, so no crash can strand a key: (1) the encrypted private key and its
//! passphrase go to SSM as SecureStrings, (2) the CallerReference is journaled, (3) CloudFront
//! learns the public key, (4) the key id is journaled. A re-run reads the key back from SSM rather
//! than generating another, and finds an already registered public key by its material before it
//! creates one, because CloudFront (and moto even more so) may accept a repeated create.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub mod cloudfront;

use cloudfront::{StepRecord, adopt_legacy_key, ensure_cloudfront_key};

use super::ssm;
use crate::config::US_EAST_1;
use crate::config::server::parameter_name;
use crate::crypto::keypair::{public_key_fingerprint, public_pem_of_encrypted, same_public_key};
use crate::crypto::{SigningKeyPair, pending};
use crate::engine::journal::{prepare_state_dir, state_dir};
use crate::engine::{Ctx, Outcome, PlannedCall, Step, StepError, StepId};

const ID: StepId = StepId::SigningKey;

pub struct SigningKey;

/// What the journal keeps about the key: public facts only.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct KeyRecord {
    /// SHA-256 of the public key (SPKI DER).
    pub fingerprint: Option<String>,
    pub public_key_pem: Option<String>,
    /// Both halves of the secret (key and passphrase) are in SSM.
    pub stored_in_ssm: bool,
    /// Recorded before CreatePublicKey, so a crash mid-call is recognisable.
    pub caller_reference: Option<String>,
    pub key_name: Option<String>,
    /// CloudFront's id for the public key: `signingKeyId`.
    pub key_id: Option<String>,
}

/// The name Medplum's init gives the key.
pub fn key_name(stack_name: &str) -> String {
    format!("{stack_name}SigningKey")
}

/// Deterministic per key: a retry of the same create carries the same reference.
pub fn caller_reference(env: &str, fingerprint: &str) -> String {
    format!(
        "medplum-init-{env}-{}",
        &fingerprint[..32.min(fingerprint.len())]
    )
}

#[async_trait]
impl Step for SigningKey {
    fn id(&self) -> StepId {
        ID
    }

    fn validate(&self, ctx: &Ctx) -> Result<(), StepError> {
        // A record that does not parse would lose the CallerReference that guards against a
        // second CloudFront key: refuse before the first AWS call of the run.
        ctx.journal.data::<KeyRecord>(ID)?;
        crate::steps::refuse_during_rotation(ctx)
    }

    fn plan(&self, ctx: &Ctx) -> Vec<PlannedCall> {
        let region = ctx.region();
        if let Some(id) = ctx.answers.str("signingKeyId") {
            return vec![
                PlannedCall::read("cloudfront", "GetPublicKey", US_EAST_1, id),
                PlannedCall::read(
                    "ssm",
                    "GetParameters",
                    region,
                    parameter_name(ctx.env(), "signingKey"),
                ),
            ];
        }
        // A record that does not parse was refused by `validate` before any plan is shown.
        let record: KeyRecord = ctx.journal.data(ID).ok().flatten().unwrap_or_default();
        if let Some(id) = record.key_id {
            return vec![
                PlannedCall::read(
                    "ssm",
                    "GetParameters",
                    region,
                    parameter_name(ctx.env(), "signingKey"),
                ),
                PlannedCall::read("cloudfront", "GetPublicKey", US_EAST_1, id),
            ];
        }
        let none_yet = "when SSM holds no signing key yet";
        vec![
            PlannedCall::read(
                "ssm",
                "GetParameters",
                region,
                format!(
                    "{} and its passphrase",
                    parameter_name(ctx.env(), "signingKey")
                ),
            ),
            PlannedCall::write(
                "ssm",
                "PutParameter",
                region,
                format!(
                    "{} (SecureString)",
                    parameter_name(ctx.env(), "signingKeyPassphrase")
                ),
            )
            .when(none_yet),
            PlannedCall::write(
                "ssm",
                "PutParameter",
                region,
                format!("{} (SecureString)", parameter_name(ctx.env(), "signingKey")),
            )
            .when(none_yet),
            PlannedCall::read(
                "cloudfront",
                "ListPublicKeys",
                US_EAST_1,
                "public keys of the account",
            ),
            PlannedCall::write(
                "cloudfront",
                "CreatePublicKey",
                US_EAST_1,
                key_name(ctx.answers.stack_name()),
            )
            .when("when CloudFront does not hold the key yet"),
        ]
    }

    async fn dry_run(&self, ctx: &Ctx) -> Result<Outcome, StepError> {
        if let (Some(id), Some(pem)) = (
            ctx.answers.str("signingKeyId"),
            ctx.answers.str("storagePublicKey"),
        ) {
            ctx.outputs.update(|o| {
                o.signing_key_id = Some(id.to_string());
                o.public_key_pem = Some(pem.to_string());
            });
            return Ok(Outcome::Planned);
        }
        let record: KeyRecord = ctx.journal.data(ID)?.unwrap_or_default();
        if let Some(pem) = record.public_key_pem {
            ctx.events
                .progress(ID, "keeping the key recorded in the journal");
            ctx.outputs.update(|o| {
                o.signing_key_id = record.key_id.clone();
                o.public_key_pem = Some(pem);
            });
            return Ok(Outcome::Planned);
        }
        // A dry run still proves the key can be made, and shows its public half in the config.
        let pair = tokio::task::spawn_blocking(SigningKeyPair::generate)
            .await
            .map_err(|e| StepError::failed(e.to_string(), None))??;
        ctx.events.progress(
            ID,
            format!(
                "generated an RSA-2048 key {} (dry run: the private half is discarded)",
                &pair.fingerprint()[..16]
            ),
        );
        ctx.outputs
            .update(|o| o.public_key_pem = Some(pair.public_pem.clone()));
        Ok(Outcome::Planned)
    }

    async fn apply(&self, ctx: &Ctx) -> Result<Outcome, StepError> {
        if let Some(id) = ctx.answers.str("signingKeyId") {
            return use_existing(ctx, id).await;
        }
        let (public_pem, changed_ssm) = ensure_private_key_in_ssm(ctx).await?;
        ctx.check_cancel()?;
        let (key_id, changed_cf) = ensure_cloudfront_key(ctx, &public_pem, &StepRecord).await?;
        ctx.outputs.update(|o| {
            o.signing_key_id = Some(key_id.clone());
            o.public_key_pem = Some(public_pem.clone());
        });
        ctx.events.progress(ID, format!("signingKeyId {key_id}"));
        Ok(if changed_ssm || changed_cf {
            Outcome::Done
        } else {
            Outcome::Unchanged
        })
    }

    async fn verify(&self, ctx: &Ctx) -> Result<(), StepError> {
        let out = ctx.outputs.get();
        let (Some(id), Some(pem)) = (out.signing_key_id, out.public_key_pem) else {
            return Err(StepError::failed(
                "the signing key step finished without a key id",
                None,
            ));
        };
        let cf = ctx.aws()?.cloudfront();
        let key = cloudfront::registered_key(ctx, &cf, &id).await?;
        if !same_public_key(&key.pem, &pem).unwrap_or(false) {
            return Err(StepError::failed(
                format!("CloudFront key {id} does not hold the expected public key"),
                None,
            ));
        }
        if ctx.answers.str("signingKeyId").is_none() {
            let names = secret_names(ctx);
            let current = ssm::get_many(ctx, ID, &names).await?;
            let (Some(k), Some(p)) = (current.get(&names[0]), current.get(&names[1])) else {
                return Err(StepError::failed(
                    "the signing key is missing from SSM",
                    None,
                ));
            };
            let derived = public_pem_of_encrypted(&k.value, &p.value)?;
            if !same_public_key(&derived, &pem)? {
                return Err(StepError::failed(
                    "the private key in SSM does not match the public key",
                    None,
                ));
            }
        }
        Ok(())
    }
}

fn pending_path(ctx: &Ctx) -> std::path::PathBuf {
    state_dir(&ctx.dir, ctx.env()).join(pending::FILE_NAME)
}

fn secret_names(ctx: &Ctx) -> [String; 2] {
    [
        parameter_name(ctx.env(), "signingKey"),
        parameter_name(ctx.env(), "signingKeyPassphrase"),
    ]
}

/// `signingKeyId` in the answers: a key the user registered. Check it exists and, when given,
/// that `storagePublicKey` is its public half.
async fn use_existing(ctx: &Ctx, id: &str) -> Result<Outcome, StepError> {
    let cf = ctx.aws()?.cloudfront();
    let encoded = cloudfront::registered_key(ctx, &cf, id)
        .await
        .map(|k| k.pem)
        .map_err(|e| {
            if e.is_not_found() {
                StepError::invalid(
                    format!("CloudFront has no public key {id}"),
                    "check signingKeyId, or remove it to let medplum-init create a key",
                )
            } else {
                e.into()
            }
        })?;
    if let Some(given) = ctx.answers.str("storagePublicKey")
        && !same_public_key(given, &encoded).unwrap_or(false)
    {
        return Err(StepError::invalid(
            format!("storagePublicKey is not the public half of CloudFront key {id}"),
            "paste the key's own public PEM, or drop storagePublicKey",
        ));
    }
    let names = secret_names(ctx);
    let current = ssm::get_many(ctx, ID, &names).await?;
    if !names.iter().all(|n| current.contains_key(n)) {
        return Err(StepError::invalid(
            format!(
                "{} and {} must hold the private key of {id}",
                names[0], names[1]
            ),
            "write them (SecureString) before re-running, or remove signingKeyId to let medplum-init create a key",
        ));
    }
    ctx.outputs.update(|o| {
        o.signing_key_id = Some(id.to_string());
        o.public_key_pem = Some(encoded);
    });
    Ok(Outcome::Unchanged)
}

/// Makes sure SSM holds a usable private key and passphrase; returns the public PEM and whether
/// anything was written.
async fn ensure_private_key_in_ssm(ctx: &Ctx) -> Result<(String, bool), StepError> {
    let names = secret_names(ctx);
    let record: KeyRecord = ctx.journal.data(ID)?.unwrap_or_default();
    let current = ssm::get_many(ctx, ID, &names).await?;
    if let (Some(k), Some(p)) = (current.get(&names[0]), current.get(&names[1])) {
        match public_pem_of_encrypted(&k.value, &p.value) {
            Ok(public_pem) => {
                // SSM holds a usable key: a pending file can only be a leftover of a run that
                // stored both halves and died before cleaning up.
                pending::remove(&pending_path(ctx));
                let fp = public_key_fingerprint(&public_pem)?;
                if record.fingerprint.as_deref() != Some(fp.as_str()) || !record.stored_in_ssm {
                    if record.key_id.is_some() && record.fingerprint.is_some() {
                        ctx.events.warn(ID, "the key in SSM is not the one medplum-init registered; using the one in SSM", None);
                    }
                    ctx.journal.update::<KeyRecord, _>(ID, |r| {
                        if r.fingerprint.as_deref() != Some(fp.as_str()) {
                            *r = KeyRecord::default();
                        }
                        r.fingerprint = Some(fp.clone());
                        r.public_key_pem = Some(public_pem.clone());
                        r.stored_in_ssm = true;
                    })?;
                }
                return Ok((public_pem, false));
            }
            Err(_) if record.key_id.is_some() => {
                return Err(StepError::failed(
                    format!("{} no longer decrypts with {}", names[0], names[1]),
                    Some("someone changed the key in SSM; restore it, or rotate the key".into()),
                ));
            }
            Err(_) => {
                // A key from `medplum aws init` is legacy PKCS#1 PEM: fine for the server, but
                // medplum-init cannot read its public half. Adopt it when SSM names its key id.
                if let Some(existing) = adopt_legacy_key(ctx).await? {
                    return Ok((existing, false));
                }
                ctx.events.warn(ID, "the signing key in SSM cannot be read; replacing it with a new key (nothing in CloudFront uses it)", None);
            }
        }
    }
    // No usable key in SSM: resume the one a crashed run left pending, or make one. Until SSM
    // holds both halves, the pair waits in a 0600 file, so a crash between the two writes
    // neither loses the key nor makes a second one.
    let pending_path = pending_path(ctx);
    let pending = pending::load(&pending_path, record.fingerprint.as_deref())
        .map_err(|e| StepError::invalid(e.to_string(), e.fix()))?;
    let pair = match pending {
        Some(p) => {
            ctx.events.progress(
                ID,
                format!(
                    "resuming with the key {} generated by an interrupted run",
                    &p.fingerprint()[..16]
                ),
            );
            p
        }
        None => {
            let p = tokio::task::spawn_blocking(SigningKeyPair::generate)
                .await
                .map_err(|e| StepError::failed(e.to_string(), None))??;
            // The journal learns the fingerprint before the file exists: a pending file is
            // trusted only when it holds the key the journal recorded first.
            let fp = p.fingerprint();
            ctx.journal.update::<KeyRecord, _>(ID, |r| {
                *r = KeyRecord {
                    fingerprint: Some(fp.clone()),
                    public_key_pem: Some(p.public_pem.clone()),
                    ..Default::default()
                };
            })?;
            prepare_state_dir(&ctx.dir, ctx.env())?;
            pending::save(&pending_path, &p).map_err(|e| {
                StepError::failed(
                    format!("cannot write {}: {e}", pending_path.display()),
                    None,
                )
            })?;
            ctx.events.progress(
                ID,
                format!("generated an RSA-2048 key {}", &p.fingerprint()[..16]),
            );
            p
        }
    };
    // Compare before write: after a crash one of the two may already be there. The passphrase
    // goes first, so a private key in SSM always has its passphrase beside it.
    for (name, value) in [
        (&names[1], &pair.passphrase),
        (&names[0], &pair.private_pem),
    ] {
        if current.get(name).is_none_or(|c| c.value != *value) {
            ssm::put_secure(ctx, ID, name, value, current.contains_key(name)).await?;
        }
    }
    ctx.journal
        .update::<KeyRecord, _>(ID, |r| r.stored_in_ssm = true)?;
    pending::remove(&pending_path);
    Ok((pair.public_pem.clone(), true))
}
