//! The choices of the guided install's [`Kind::Choice`](super::Kind::Choice) questions, each
//! with a short hint: what it costs (NAT gateways, Fargate sizes), what it means (failover), or
//! which certificate it is (the name that covers the domain, expiry, id).

use super::fields::{FieldId, NAT_MONTHLY_USD, Opt, fargate_monthly_usd, opt, short_arn};
use super::{Draft, Known};
use crate::config::US_EAST_1;
use crate::config::validators::{self as v, REGIONS};

impl FieldId {
    /// The choices of a [`Kind::Choice`] field.
    pub fn options(self, d: &Draft, k: &Known) -> Vec<Opt> {
        use FieldId::*;
        match self {
            Region => REGIONS
                .iter()
                .map(|r| {
                    let hint = if *r == US_EAST_1 {
                        "CloudFront's certificates live here too"
                    } else {
                        ""
                    };
                    opt(*r, *r, hint)
                })
                .collect(),
            Zone => {
                let mut out = vec![opt(
                    "auto",
                    "Find it automatically",
                    "the longest Route53 zone holding the domain",
                )];
                for z in k.zones.iter().flatten() {
                    out.push(opt(format!("zone:{}", z.name), &z.name, &z.id));
                }
                out.push(opt(
                    "skip",
                    "None: I manage DNS myself",
                    "skipDns: you create the records",
                ));
                out
            }
            MaxAzs => vec![
                opt("2", "2 zones", nat_hint(2)),
                opt("3", "3 zones", nat_hint(3)),
                opt("99", "All zones", "one NAT gateway per zone"),
            ],
            RdsInstances => vec![
                opt("1", "1: a writer", "no failover"),
                opt("2", "2: writer + reader", "fails over in about a minute"),
                opt("3", "3: writer + 2 readers", "failover and read capacity"),
            ],
            RdsInstanceType => vec![
                opt(
                    "",
                    "Medplum's default",
                    "t3.medium: 2 vCPU, 4 GiB, burstable",
                ),
                opt(
                    "t4g.medium",
                    "t4g.medium",
                    "2 vCPU, 4 GiB, burstable, Graviton",
                ),
                opt(
                    "t4g.large",
                    "t4g.large",
                    "2 vCPU, 8 GiB, burstable, Graviton",
                ),
                opt("r6g.large", "r6g.large", "2 vCPU, 16 GiB, steady"),
                opt("r6g.xlarge", "r6g.xlarge", "4 vCPU, 32 GiB, steady"),
                opt("r7g.2xlarge", "r7g.2xlarge", "8 vCPU, 64 GiB, steady"),
            ],
            ServerCount => ["1", "2", "3", "4", "6", "8"]
                .into_iter()
                .map(|n| {
                    let hint = if n == "1" {
                        "no redundancy".to_string()
                    } else {
                        format!("{n} tasks behind the load balancer")
                    };
                    opt(n, n, hint)
                })
                .collect(),
            ServerCpu => v::FARGATE_CPUS
                .iter()
                .map(|c| {
                    opt(
                        c.to_string(),
                        format!("{c} ({} vCPU)", *c as f64 / 1024.0),
                        format!(
                            "{}–{} GiB memory",
                            fmt_gib(v::fargate_memory_for(*c)[0]),
                            fmt_gib(*v::fargate_memory_for(*c).last().unwrap())
                        ),
                    )
                })
                .collect(),
            ServerMemory => {
                let cpu: u32 = d.value(ServerCpu, k).parse().unwrap_or(256);
                v::fargate_memory_for(cpu)
                    .into_iter()
                    .map(|m| {
                        opt(
                            m.to_string(),
                            format!("{m} MiB"),
                            format!("≈ ${:.0}/month per task", fargate_monthly_usd(cpu, m)),
                        )
                    })
                    .collect()
            }
            CertApi | CertApp | CertStorage => {
                let (domain, region) = self.certificate_target(d, k);
                let mut out = vec![
                    opt(
                        "auto",
                        "Reuse or request",
                        "an issued one that fits, else a new one",
                    ),
                    opt("request", "Request a new one", "validated through DNS"),
                ];
                for c in k.certificates.get(&region).into_iter().flatten() {
                    if c.covers(&domain) {
                        out.push(found_cert(c, &domain));
                    }
                }
                out.push(opt("skip", "Skip", "set the ARN yourself later"));
                out
            }
            KeyMode => vec![
                opt(
                    "generate",
                    "Generate a new key",
                    "or keep the one already in SSM",
                ),
                opt(
                    "existing",
                    "Use a key registered in CloudFront",
                    "its private half must be in SSM",
                ),
            ],
            EmailIdentity => vec![
                opt("address", "Verify the address", "SES mails it a link"),
                opt(
                    "domain",
                    "Verify the whole domain",
                    "DKIM records in Route53",
                ),
                opt("skip", "Leave SES alone", "already set up"),
            ],
            LogLevel => vec![
                opt("", "Server default", "INFO"),
                opt("DEBUG", "DEBUG", "very verbose"),
                opt("INFO", "INFO", ""),
                opt("WARN", "WARN", ""),
                opt("ERROR", "ERROR", "errors only"),
            ],
            _ => Vec::new(),
        }
    }
}

pub(super) fn nat_hint(n: u32) -> String {
    format!(
        "{n} NAT gateways ≈ ${:.0}/month before data",
        NAT_MONTHLY_USD * n as f64
    )
}

fn fmt_gib(mib: u32) -> String {
    if mib.is_multiple_of(1024) {
        (mib / 1024).to_string()
    } else {
        format!("{:.1}", mib as f64 / 1024.0)
    }
}

/// A found certificate as a choice: the name that covers the domain, the expiry and the id's
/// first block, enough to recognise it in the ACM console.
fn found_cert(c: &crate::steps::lookup::CertSummary, domain: &str) -> Opt {
    let name = c
        .names
        .iter()
        .find(|n| crate::steps::certificates::name_covers(n, domain))
        .cloned()
        .unwrap_or_else(|| c.arn.clone());
    let until = c
        .not_after
        .map(|t| {
            let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(t.max(0) as u64);
            let day = crate::engine::time::format_rfc3339(when);
            format!("until {}, ", &day[..10])
        })
        .unwrap_or_default();
    let id = short_arn(&c.arn);
    let id = id.trim_start_matches("certificate/");
    let id = id.split('-').next().unwrap_or(id);
    opt(&c.arn, format!("Use {name}"), format!("{until}{id}…"))
}
