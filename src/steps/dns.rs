//! Route53 helpers shared by the certificate and email steps: find the hosted zone that holds a
//! name (never guessing from the last two labels), and write records only when they differ.

use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};

use crate::aws::{AwsClients, AwsError};
use crate::config::US_EAST_1;
use crate::config::validators::is_within;
use crate::config::zones::{Zone, pick_zone};
use crate::engine::ctx::announced_call;
use crate::engine::{Cancel, Ctx, EventSink, StepError, StepId};

/// Every public hosted zone of the account.
pub async fn public_zones(ctx: &Ctx, step: StepId) -> Result<Vec<Zone>, AwsError> {
    let aws = ctx.aws().map_err(|_| offline())?;
    list_public_zones(aws, &ctx.events, &ctx.cancel, step).await
}

/// Every public hosted zone of the account, for callers without a run context (the guided
/// install's look-ups).
pub async fn list_public_zones(
    aws: &AwsClients,
    events: &EventSink,
    cancel: &Cancel,
    step: StepId,
) -> Result<Vec<Zone>, AwsError> {
    let r53 = aws.route53();
    let mut zones = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let res = announced_call(
            events,
            cancel,
            step,
            "route53",
            "ListHostedZones",
            US_EAST_1,
            "hosted zones",
            r53.list_hosted_zones().set_marker(marker.clone()).send(),
        )
        .await?;
        for z in res.hosted_zones() {
            if z.config().is_some_and(|c| c.private_zone()) {
                continue;
            }
            zones.push(Zone {
                id: z.id().trim_start_matches("/hostedzone/").to_string(),
                name: z.name().trim_end_matches('.').to_string(),
            });
        }
        marker = res.next_marker().map(str::to_string);
        if !res.is_truncated() || marker.is_none() {
            break;
        }
    }
    Ok(zones)
}

/// The zone holding the answers' domains, looked up once per run and shared by the steps.
pub async fn zone_for(ctx: &Ctx, step: StepId, domain: &str) -> Result<Option<Zone>, StepError> {
    if let Some((id, name)) = ctx.outputs.get().hosted_zone
        && is_within(domain, &name)
    {
        return Ok(Some(Zone { id, name }));
    }
    let zones = public_zones(ctx, step).await?;
    let wanted = ctx.answers.hosted_zone_name();
    let found = pick_zone(&zones, domain, wanted).cloned();
    match (&found, wanted) {
        (None, Some(w)) => ctx.events.warn(
            step,
            format!("hosted zone {w} (hostedZoneName) is not in Route53 of this account"),
            Some("create it, or fix hostedZoneName".into()),
        ),
        (Some(z), _) => {
            if zones.iter().filter(|o| o.name == z.name).count() > 1 {
                ctx.events.warn(
                    step,
                    format!("Route53 has several zones named {}; using {}", z.name, z.id),
                    None,
                );
            }
            if is_within(ctx.answers.domain(), &z.name) || ctx.answers.domain() == z.name {
                ctx.outputs
                    .update(|o| o.hosted_zone = Some((z.id.clone(), z.name.clone())));
            }
        }
        _ => {}
    }
    Ok(found)
}

/// Makes sure `name` is a CNAME to `value` in `zone`; returns whether it wrote anything.
pub async fn ensure_cname(
    ctx: &Ctx,
    step: StepId,
    zone: &Zone,
    name: &str,
    value: &str,
) -> Result<bool, AwsError> {
    let r53 = ctx.aws().map_err(|_| offline())?.route53();
    let fqdn = with_dot(name);
    let current = ctx
        .call(
            step,
            "route53",
            "ListResourceRecordSets",
            US_EAST_1,
            &fqdn,
            r53.list_resource_record_sets()
                .hosted_zone_id(&zone.id)
                .start_record_name(&fqdn)
                .start_record_type(RrType::Cname)
                .max_items(1)
                .send(),
        )
        .await?;
    let same = current.resource_record_sets().iter().any(|r| {
        r.name().eq_ignore_ascii_case(&fqdn)
            && r.r#type() == &RrType::Cname
            && r.resource_records().iter().any(|rr| {
                rr.value()
                    .trim_end_matches('.')
                    .eq_ignore_ascii_case(value.trim_end_matches('.'))
            })
    });
    if same {
        return Ok(false);
    }
    let record = ResourceRecordSet::builder()
        .name(&fqdn)
        .r#type(RrType::Cname)
        .ttl(300)
        .resource_records(
            ResourceRecord::builder()
                .value(value)
                .build()
                .expect("value set"),
        )
        .build()
        .expect("name and type set");
    let batch = ChangeBatch::builder()
        .comment("medplum-init")
        .changes(
            Change::builder()
                .action(ChangeAction::Upsert)
                .resource_record_set(record)
                .build()
                .expect("action and record set"),
        )
        .build()
        .expect("changes set");
    ctx.call(
        step,
        "route53",
        "ChangeResourceRecordSets",
        US_EAST_1,
        &fqdn,
        r53.change_resource_record_sets()
            .hosted_zone_id(&zone.id)
            .change_batch(batch)
            .send(),
    )
    .await?;
    Ok(true)
}

fn with_dot(name: &str) -> String {
    if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    }
}

fn offline() -> AwsError {
    AwsError {
        service: "route53".into(),
        operation: "(offline)".into(),
        code: None,
        message: "no AWS access in a dry run".into(),
        kind: crate::aws::AwsErrorKind::Other,
    }
}
