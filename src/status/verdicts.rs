//! The rules: each area's checks from its [`Facts`] and the config. Pure, so each rule has a
//! unit test.

use std::collections::BTreeMap;

use super::facts::{CertDetail, CertFacts, DriftFacts, EmailFacts, Facts, Param, StackFacts};
use super::{Check, Verdict};
use crate::config::infra::InfraConfig;
use crate::config::{derive, server};
use crate::crypto::keypair;

/// Days before expiry from which a certificate is worth a warning.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

pub fn all(f: &Facts, c: &InfraConfig) -> Vec<Check> {
    let mut out = Vec::new();
    out.extend(f.certificates.iter().map(|cf| certificate(cf, f.now_secs)));
    out.extend(email(&f.email));
    out.extend(parameters(f, c));
    out.extend(signing_key(f, c));
    out.extend(rotation(f));
    out.extend(stacks(f, c));
    out.extend(drift(f, c));
    out
}

fn unknown(area: &'static str, name: &str, why: &str) -> Check {
    Check::new(area, name, Verdict::Unknown)
        .detail(format!("could not be read: {why}"))
        .fix("check the credentials' permissions (docs/permissions.md, status) and run it again")
}

pub fn certificate(cf: &CertFacts, now_secs: i64) -> Check {
    const AREA: &str = "certificates";
    let name = format!("{} certificate", cf.label);
    let mine = |v: Verdict| Check::new(AREA, name.clone(), v);
    if cf.arn.is_empty() {
        return mine(Verdict::Unhealthy)
            .detail(format!("{} is not set", cf.key))
            .fix("run `medplum-init step certificates`, or set it to an ISSUED certificate's ARN");
    }
    let region = cf.arn.split(':').nth(3).unwrap_or_default();
    if region != cf.want_region {
        return mine(Verdict::Unhealthy)
            .detail(format!("{} is in {region}, not {}", cf.key, cf.want_region))
            .fix(format!(
                "use a certificate from {} ({})",
                cf.want_region,
                if cf.want_region == crate::config::US_EAST_1 {
                    "CloudFront only reads certificates there"
                } else {
                    "the load balancer's region"
                }
            ));
    }
    let d: &CertDetail = match &cf.read {
        Err(e) => return unknown(AREA, &name, e),
        Ok(None) => {
            return mine(Verdict::Unhealthy)
                .detail(format!("{} names no certificate ACM has", cf.key))
                .fix("`medplum-init step certificates` requests one; then `medplum-init deploy`");
        }
        Ok(Some(d)) => d,
    };
    if d.status != "ISSUED" {
        let fix = if d.status == "PENDING_VALIDATION" {
            "create the DNS validation record ACM shows for it (`medplum-init step certificates` \
             writes it when the zone is in this account), then wait for ISSUED"
        } else {
            "`medplum-init step certificates` requests a new one; then `medplum-init deploy`"
        };
        return mine(Verdict::Unhealthy)
            .detail(format!("{} for {}", d.status, cf.name))
            .fix(fix);
    }
    if !crate::steps::certificates::lookup::covers(d.domain.as_deref(), &d.sans, &cf.name) {
        return mine(Verdict::Unhealthy)
            .detail(format!(
                "ISSUED for {}, which does not cover {}",
                d.domain.as_deref().unwrap_or("?"),
                cf.name
            ))
            .fix(format!(
                "remove {} from the config, run `medplum-init init --only certificates --only config` (it finds or requests one for {} and writes it back), then `medplum-init deploy`",
                cf.key, cf.name
            ));
    }
    let days = d.not_after.map(|t| (t - now_secs).div_euclid(86_400));
    let renewal = d.renewal.as_deref().unwrap_or("unknown");
    let mut detail = format!("ISSUED for {}", cf.name);
    if let Some(days) = days {
        detail.push_str(&format!(", expires in {days} days (renewal {renewal})"));
    }
    if d.in_use == 0 && cf.stack_deployed {
        return mine(Verdict::Warning)
            .detail(format!("{detail}; not in use by any resource"))
            .fix(format!("deploy again so the stack uses {}", cf.key));
    }
    match days {
        Some(d) if d < 0 => mine(Verdict::Unhealthy)
            .detail(detail)
            .fix("request a new certificate and deploy again"),
        Some(d) if d < EXPIRY_WARNING_DAYS && renewal != "ELIGIBLE" => mine(Verdict::Unhealthy)
            .detail(detail)
            .fix("ACM will not renew it: keep its DNS validation record in place, or request a new one"),
        Some(d) if d < EXPIRY_WARNING_DAYS => mine(Verdict::Warning)
            .detail(detail)
            .fix("ACM renews it while its DNS validation record stays in place"),
        _ => mine(Verdict::Healthy).detail(detail),
    }
}

pub fn email(e: &Result<Option<EmailFacts>, String>) -> Vec<Check> {
    const AREA: &str = "email";
    let e = match e {
        Err(why) => return vec![unknown(AREA, "SES identity", why)],
        Ok(None) => {
            return vec![
                Check::new(AREA, "SES identity", Verdict::Unhealthy)
                    .detail("no supportEmail parameter to check")
                    .fix("`medplum-init step parameters` writes them"),
            ];
        }
        Ok(Some(e)) => e,
    };
    let mut out = Vec::new();
    out.push(match &e.identity {
        None => Check::new(AREA, "SES identity", Verdict::Unhealthy)
            .detail(format!(
                "neither {} nor its domain is an SES identity",
                e.address
            ))
            .fix("run `medplum-init step email`, or verify the address in SES"),
        Some(id) if !id.verified => Check::new(AREA, "SES identity", Verdict::Unhealthy)
            .detail(format!("{} is not verified for sending", id.name))
            .fix(if id.name.contains('@') {
                "open the link SES mailed to the address"
            } else {
                "create the DKIM records SES lists for the domain"
            }),
        Some(id) => {
            let dkim = id
                .dkim
                .as_deref()
                .map(|d| format!(", DKIM {d}"))
                .unwrap_or_default();
            Check::new(AREA, "SES identity", Verdict::Healthy)
                .detail(format!("{} verified{dkim}", id.name))
        }
    });
    out.push(match &e.production {
        Ok(true) => Check::new(AREA, "SES sending", Verdict::Healthy).detail("production access"),
        Ok(false) => Check::new(AREA, "SES sending", Verdict::Warning)
            .detail("sandbox: mail goes only to verified addresses")
            .fix("request production access in the SES console (Account dashboard)"),
        Err(why) => unknown(AREA, "SES sending", why),
    });
    out
}

/// What each derived parameter must hold, from the config.
pub fn expected(c: &InfraConfig) -> BTreeMap<&'static str, String> {
    let mut m = BTreeMap::new();
    m.insert("port", c.api_port.to_string());
    m.insert(
        "baseUrl",
        c.base_url
            .clone()
            .filter(|b| !b.is_empty())
            .unwrap_or_else(|| derive::https_base(&c.api_domain_name)),
    );
    m.insert("appBaseUrl", derive::https_base(&c.app_domain_name));
    m.insert(
        "storageBaseUrl",
        derive::storage_base_url(&c.storage_domain_name),
    );
    m.insert(
        "binaryStorage",
        derive::binary_storage(&c.storage_bucket_name),
    );
    if let Some(id) = c.signing_key_id.as_ref().filter(|s| !s.is_empty()) {
        m.insert("signingKeyId", id.clone());
    }
    m
}

pub fn parameters(f: &Facts, c: &InfraConfig) -> Vec<Check> {
    const AREA: &str = "parameters";
    let path = server::parameter_path(&f.env);
    let params: &BTreeMap<String, Param> = match &f.parameters {
        Err(why) => return vec![unknown(AREA, &path, why)],
        Ok(p) => p,
    };
    let deployed = f.stacks.first().is_some_and(StackFacts::deployed);
    let expected = expected(c);
    let mut out = Vec::new();
    for k in server::SERVER_KEYS {
        let stack_owned = k.created_by == server::CreatedBy::Cdk;
        if !(k.required || (stack_owned && deployed)) {
            continue;
        }
        let name = format!("{path}{}", k.key);
        let check = |v: Verdict| Check::new(AREA, name.clone(), v);
        let Some(p) = params.get(k.key) else {
            out.push(
                check(Verdict::Unhealthy)
                    .detail("missing")
                    .fix(if stack_owned {
                        "the stack creates it: deploy again"
                    } else {
                        "`medplum-init step parameters` writes it"
                    }),
            );
            continue;
        };
        let want_type = if stack_owned {
            "String"
        } else {
            "SecureString"
        };
        if !stack_owned && p.kind != want_type {
            out.push(
                check(Verdict::Unhealthy)
                    .detail(format!("a {}, not a {want_type}", p.kind))
                    .fix("`medplum-init step parameters` writes it again as a SecureString"),
            );
            continue;
        }
        match expected.get(k.key) {
            Some(want) if p.value.expose() != want => out.push(
                check(Verdict::Unhealthy)
                    .detail(format!(
                        "holds '{}', the config implies '{want}'",
                        p.value.expose()
                    ))
                    .fix("`medplum-init step parameters` writes what the config implies (or fix the config file)"),
            ),
            _ => {
                let what = if k.secret {
                    format!("{} (value hidden)", p.kind)
                } else {
                    p.kind.clone()
                };
                out.push(check(Verdict::Healthy).detail(what));
            }
        }
    }
    // What medplum-init wrote and is gone, or changed since by someone else.
    for (full, version) in &f.written {
        let Some(key) = full.strip_prefix(&path) else {
            continue;
        };
        if out.iter().any(|c| c.name == *full) {
            continue;
        }
        match params.get(key) {
            None => out.push(
                Check::new(AREA, full.clone(), Verdict::Warning)
                    .detail("written by medplum-init, no longer there")
                    .fix("`medplum-init step parameters` writes it again, if the server still needs it"),
            ),
            Some(p) if p.version != *version => out.push(
                Check::new(AREA, full.clone(), Verdict::Warning)
                    .detail(format!(
                        "changed outside medplum-init (version {} here, {version} written)",
                        p.version
                    ))
                    .fix("`medplum-init step parameters` puts the answers' value back"),
            ),
            Some(_) => {}
        }
    }
    out
}

pub fn signing_key(f: &Facts, c: &InfraConfig) -> Vec<Check> {
    const AREA: &str = "signing key";
    let Some(id) = c.signing_key_id.as_ref().filter(|s| !s.is_empty()) else {
        return vec![
            Check::new(AREA, "signingKeyId", Verdict::Unhealthy)
                .detail("the config names no CloudFront key")
                .fix("run `medplum-init step signing-key`"),
        ];
    };
    let mut out = Vec::new();
    let params = f.parameters.as_ref().ok();
    let private = params.and_then(|p| p.get("signingKey"));
    let passphrase = params.and_then(|p| p.get("signingKeyPassphrase"));
    let from_ssm = match (private, passphrase) {
        (Some(k), Some(p)) => match keypair::public_pem_of_encrypted(&k.value, &p.value) {
            Ok(pem) => {
                out.push(
                    Check::new(AREA, "private key in SSM", Verdict::Healthy)
                        .detail("decrypts with the passphrase in SSM"),
                );
                Some(pem)
            }
            Err(_) => {
                out.push(
                    Check::new(AREA, "private key in SSM", Verdict::Unhealthy)
                        .detail("does not decrypt with signingKeyPassphrase")
                        .fix("`medplum-init rotate signing-key` makes a new key and puts it everywhere"),
                );
                None
            }
        },
        _ if f.parameters.is_err() => None,
        _ => {
            out.push(
                Check::new(AREA, "private key in SSM", Verdict::Unhealthy)
                    .detail("signingKey or signingKeyPassphrase is missing")
                    .fix(
                        "`medplum-init rotate signing-key` makes a new key and puts it everywhere",
                    ),
            );
            None
        }
    };
    let name = format!("CloudFront key {id}");
    match &f.public_key {
        Err(why) => out.push(unknown(AREA, &name, why)),
        Ok(None) => out.push(
            Check::new(AREA, name.clone(), Verdict::Unhealthy)
                .detail("CloudFront has no public key with this id")
                .fix("`medplum-init step signing-key` registers the key in SSM again; then `medplum-init deploy`"),
        ),
        Ok(Some(cloudfront)) => {
            let same = |a: &str, b: &str| keypair::same_public_key(a, b).unwrap_or(false);
            let mut problems = Vec::new();
            if let Some(pem) = &from_ssm
                && !same(pem, cloudfront)
            {
                problems.push("the private key in SSM is not its pair");
            }
            if let Some(cfg) = c.storage_public_key.as_deref().filter(|s| !s.is_empty())
                && !same(cfg, cloudfront)
            {
                problems.push("storagePublicKey in the config is another key");
            }
            out.push(if problems.is_empty() {
                Check::new(AREA, name.clone(), Verdict::Healthy)
                    .detail("matches the private key in SSM and the config")
            } else {
                Check::new(AREA, name.clone(), Verdict::Unhealthy)
                    .detail(problems.join("; "))
                    .fix("`medplum-init rotate signing-key` makes a new key and puts it everywhere")
            });
        }
    }
    match &f.key_group {
        None => {}
        Some(Err(why)) => out.push(unknown(AREA, "key group", why)),
        Some(Ok(items)) if items.iter().any(|i| i == id) => out.push(
            Check::new(AREA, "key group", Verdict::Healthy)
                .detail(format!("the stack's key group trusts {id}")),
        ),
        Some(Ok(items)) => out.push(
            Check::new(AREA, "key group", Verdict::Unhealthy)
                .detail(format!(
                    "the stack's key group trusts {}, not {id}: signed storage URLs fail",
                    if items.is_empty() {
                        "no key".to_string()
                    } else {
                        items.join(", ")
                    }
                ))
                .fix("deploy again, so the key group holds signingKeyId"),
        ),
    }
    out
}

/// A signing key rotation in progress: a warning (both keys are trusted, nothing is broken)
/// that says what comes next and when the rotation may finish.
pub fn rotation(f: &Facts) -> Vec<Check> {
    let Some(r) = &f.rotation else {
        return Vec::new();
    };
    let next = r.stage.number_of_next();
    let check = Check::new("signing key", "rotation", Verdict::Warning);
    vec![match r.may_finish_text() {
        Some(at) if next == 5 => check
            .detail(format!(
                "in progress: the servers sign with {}, {} is still trusted; may finish after {at}",
                r.next.key_id.as_deref().unwrap_or("the new key"),
                r.old_key_id
            ))
            .fix(format!(
                "after {at}: medplum-init rotate signing-key --finish"
            )),
        _ => check
            .detail(format!(
                "in progress since {}: stage {next} of 5 next ({}); {} is still the key in use",
                r.started,
                r.stage.next(),
                r.old_key_id
            ))
            .fix("medplum-init rotate signing-key (it resumes the rotation)"),
    }]
}

/// Drift of the primary stack, a line per drifted resource: a resource deleted by hand is not
/// healthy (the stack's next update may fail on it), one edited by hand is a warning (the next
/// deploy of a change to it overwrites the edit).
pub fn drift(f: &Facts, c: &InfraConfig) -> Vec<Check> {
    const AREA: &str = "stacks";
    let name = format!("drift of {}", c.stack_name);
    match &f.drift {
        None => Vec::new(),
        Some(Err(why)) => vec![unknown(AREA, &name, why)],
        Some(Ok(DriftFacts::InSync)) => vec![
            Check::new(AREA, name, Verdict::Healthy)
                .detail("every resource is as the stack left it"),
        ],
        Some(Ok(DriftFacts::StillRunning)) => vec![
            Check::new(AREA, name, Verdict::Warning)
                .detail("drift detection is still running")
                .fix("run status again in a minute"),
        ],
        Some(Ok(DriftFacts::Drifted(list))) => list
            .iter()
            .map(|d| {
                let label = format!("drift of {} ({})", d.logical_id, d.resource_type);
                if d.status == "DELETED" {
                    Check::new(AREA, label, Verdict::Unhealthy)
                        .detail("deleted outside CloudFormation")
                        .fix("recreate it as the template has it (`medplum-init diff` shows the stack's view), or remove it from the stack with the CloudFormation console's resource import/retain flow")
                } else {
                    Check::new(AREA, label, Verdict::Warning)
                        .detail(format!(
                            "changed outside CloudFormation: {}",
                            if d.properties.is_empty() {
                                "its properties".to_string()
                            } else {
                                d.properties.join(", ")
                            }
                        ))
                        .fix("undo the change, or put it in the config so the next deploy keeps it")
                }
            })
            .collect(),
    }
}

pub fn stacks(f: &Facts, c: &InfraConfig) -> Vec<Check> {
    const AREA: &str = "stacks";
    let mut out = Vec::new();
    for s in &f.stacks {
        let name = format!("{} ({})", s.name, s.region);
        out.push(match &s.status {
            Err(why) => unknown(AREA, &name, why),
            Ok(None) => Check::new(AREA, name, Verdict::Unhealthy)
                .detail("not deployed")
                .fix("medplum-init deploy"),
            Ok(Some(st))
                if st.ends_with("_COMPLETE")
                    && !st.contains("ROLLBACK")
                    && st != "DELETE_COMPLETE" =>
            {
                Check::new(AREA, name, Verdict::Healthy).detail(st.clone())
            }
            Ok(Some(st)) if st.ends_with("_IN_PROGRESS") => {
                Check::new(AREA, name, Verdict::Warning)
                    .detail(format!("{st}: an operation is running"))
                    .fix("wait for it (medplum-init deploy follows it)")
            }
            Ok(Some(st)) => Check::new(AREA, name, Verdict::Unhealthy)
                .detail(st.clone())
                .fix("medplum-init deploy (it recovers a failed or rolled-back stack)"),
        });
    }
    match &f.server_image {
        None => {}
        Some(Err(why)) => out.push(unknown(AREA, "server image", why)),
        Some(Ok(None)) => out.push(
            Check::new(AREA, "server image", Verdict::Unknown)
                .detail("the stack has no task definition to read"),
        ),
        Some(Ok(Some(running))) if *running == c.server_image => out.push(
            Check::new(AREA, "server image", Verdict::Healthy).detail(format!("{running} runs")),
        ),
        Some(Ok(Some(running))) => out.push(
            Check::new(AREA, "server image", Verdict::Warning)
                .detail(format!(
                    "{running} runs; the config says {}",
                    c.server_image
                ))
                .fix("medplum-init deploy, to run the configured image"),
        ),
    }
    if f.stacks.first().is_some_and(StackFacts::deployed) {
        out.push(match &f.app {
            Some(a) => Check::new(AREA, "web app", Verdict::Healthy)
                .detail(format!("@medplum/app {} at {}", a.version, a.app_url)),
            None => Check::new(AREA, "web app", Verdict::Warning)
                .detail("no publish recorded in this folder's journal")
                .fix("medplum-init app"),
        });
    }
    out
}

#[cfg(test)]
#[path = "verdicts_tests.rs"]
mod tests;
