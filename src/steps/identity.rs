//! Step 1: who are we? STS GetCallerIdentity gives the account, which fills `accountNumber` and
//! must agree with it when the answers name one.

use async_trait::async_trait;

use crate::engine::{Ctx, Outcome, PlannedCall, Step, StepError, StepId};

const ID: StepId = StepId::Identity;

pub struct Identity;

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Record {
    account: Option<String>,
    arn: Option<String>,
}

#[async_trait]
impl Step for Identity {
    fn id(&self) -> StepId {
        ID
    }

    fn plan(&self, ctx: &Ctx) -> Vec<PlannedCall> {
        vec![PlannedCall::read(
            "sts",
            "GetCallerIdentity",
            ctx.region(),
            "the caller's account",
        )]
    }

    async fn dry_run(&self, ctx: &Ctx) -> Result<Outcome, StepError> {
        if let Some(acct) = ctx.answers.account() {
            ctx.outputs.update(|o| o.account = Some(acct.to_string()));
        } else {
            ctx.events.warn(
                ID,
                "accountNumber is not in the answers; a real run takes it from your credentials",
                None,
            );
        }
        Ok(Outcome::Planned)
    }

    async fn apply(&self, ctx: &Ctx) -> Result<Outcome, StepError> {
        let aws = ctx.aws()?;
        let out = ctx
            .call(
                ID,
                "sts",
                "GetCallerIdentity",
                ctx.region(),
                "caller",
                aws.sts().get_caller_identity().send(),
            )
            .await?;
        let account = out.account().unwrap_or_default().to_string();
        let arn = out.arn().unwrap_or_default().to_string();
        if let Some(wanted) = ctx.answers.account()
            && wanted != account
        {
            return Err(StepError::invalid(
                format!(
                    "the credentials belong to account {account} ({arn}), but accountNumber is {wanted}"
                ),
                "use credentials (or --profile) for the right account, or correct accountNumber",
            ));
        }
        ctx.events
            .progress(ID, format!("account {account} as {arn}"));
        ctx.journal.update::<Record, _>(ID, |r| {
            r.account = Some(account.clone());
            r.arn = Some(arn.clone());
        })?;
        ctx.outputs.update(|o| {
            o.account = Some(account);
            o.caller_arn = Some(arn);
        });
        Ok(Outcome::Done)
    }
}
