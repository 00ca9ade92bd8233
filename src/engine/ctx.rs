//! What a step runs with: answers, journal, AWS clients, the event sink, and the values earlier
//! steps produced.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::cancel::Cancel;
use super::event::{CallStatus, Event, EventSink, StepId};
use super::journal::Journal;
use super::step::StepError;
use crate::answers::Answers;
use crate::aws::{AwsClients, AwsError};

/// Values produced by steps for later ones. Never secrets: the key pair stays inside the
/// signing-key step, which writes its private half to SSM itself.
#[derive(Debug, Clone, Default)]
pub struct OutputValues {
    pub account: Option<String>,
    pub caller_arn: Option<String>,
    /// Certificate ARN by purpose (`api`, `app`, `storage`).
    pub certificates: BTreeMap<String, String>,
    pub signing_key_id: Option<String>,
    pub public_key_pem: Option<String>,
    /// Route53 zone id and name that holds the domains, when found.
    pub hosted_zone: Option<(String, String)>,
    /// Paths written locally.
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Clone, Default)]
pub struct Outputs(Arc<Mutex<OutputValues>>);

impl Outputs {
    pub fn get(&self) -> OutputValues {
        self.0.lock().expect("outputs lock").clone()
    }
    pub fn update(&self, f: impl FnOnce(&mut OutputValues)) {
        f(&mut self.0.lock().expect("outputs lock"));
    }
}

#[derive(Clone)]
pub struct Ctx {
    pub answers: Arc<Answers>,
    /// Where the config file and `.medplum-init/` live.
    pub dir: PathBuf,
    pub journal: Journal,
    /// `None` in a dry run: nothing may reach AWS.
    pub aws: Option<AwsClients>,
    pub events: EventSink,
    pub outputs: Outputs,
    pub dry_run: bool,
    /// `--yes`: apply changes that otherwise wait for confirmation.
    pub yes: bool,
    pub cancel: Cancel,
}

impl Ctx {
    pub fn aws(&self) -> Result<&AwsClients, StepError> {
        self.aws.as_ref().ok_or_else(|| {
            StepError::failed(
                "this step needs AWS, and the run is offline (--dry-run)",
                None,
            )
        })
    }

    pub fn region(&self) -> &str {
        self.answers.region()
    }

    pub fn env(&self) -> &str {
        self.answers.env()
    }

    /// Stops the step when the run was interrupted.
    pub fn check_cancel(&self) -> Result<(), StepError> {
        if self.cancel.is_cancelled() {
            Err(StepError::Cancelled)
        } else {
            Ok(())
        }
    }

    /// Runs one AWS call, announcing it (started, then ok or failed with its elapsed time) and
    /// mapping its error to an [`AwsError`] with a hint. Ctrl-C abandons it at once: the error
    /// is then [`AwsError::cancelled`], which a step's `?` turns into [`StepError::Cancelled`].
    pub async fn call<T, E, F>(
        &self,
        step: StepId,
        service: &str,
        operation: &str,
        region: &str,
        resource: &str,
        fut: F,
    ) -> Result<T, AwsError>
    where
        F: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        announced_call(
            &self.events,
            &self.cancel,
            step,
            service,
            operation,
            region,
            resource,
            fut,
        )
        .await
    }
}

/// [`Ctx::call`] for code that has an event sink but no run context: the read-only look-ups the
/// guided install makes before any answers exist (identity, hosted zones, certificates).
#[allow(clippy::too_many_arguments)]
pub async fn announced_call<T, E, F>(
    events: &EventSink,
    cancel: &Cancel,
    step: StepId,
    service: &str,
    operation: &str,
    region: &str,
    resource: &str,
    fut: F,
) -> Result<T, AwsError>
where
    F: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let event = |status, elapsed_ms, error| Event::AwsCall {
        step,
        service: service.into(),
        operation: operation.into(),
        region: region.into(),
        resource: resource.into(),
        status,
        elapsed_ms,
        error,
    };
    events.emit(event(CallStatus::Started, None, None));
    let started = Instant::now();
    let Some(result) = cancel.race(fut).await else {
        let ms = Some(started.elapsed().as_millis() as u64);
        tracing::debug!(step = %step, service, operation, region, resource, elapsed_ms = ms, "aws call abandoned: interrupted");
        let err = AwsError::cancelled(service, operation);
        events.emit(event(CallStatus::Failed, ms, Some(err.message.clone())));
        return Err(err);
    };
    let ms = Some(started.elapsed().as_millis() as u64);
    tracing::debug!(step = %step, service, operation, region, resource, elapsed_ms = ms, ok = result.is_ok(), "aws call");
    match result {
        Ok(v) => {
            events.emit(event(CallStatus::Ok, ms, None));
            #[cfg(debug_assertions)]
            test_pause(service, operation);
            Ok(v)
        }
        Err(e) => {
            let err = AwsError::from_sdk(service, operation, &e);
            // Not-found answers are normal look-ups, not failures worth a red line.
            let status = if err.is_not_found() {
                CallStatus::Ok
            } else {
                CallStatus::Failed
            };
            let text = if err.is_not_found() {
                None
            } else {
                Some(err.message.clone())
            };
            events.emit(event(status, ms, text));
            Err(err)
        }
    }
}

/// Test hook (debug builds only): `MEDPLUM_INIT_TEST_PAUSE_AFTER=service:Operation[#n]` stops the
/// process dead after the n-th (default first) successful call of that operation, after AWS
/// accepted it but before the step records the result: the worst moment for a crash. The test
/// then sends SIGKILL, re-runs, and checks that nothing was created twice.
#[cfg(not(debug_assertions))]
pub(crate) fn test_pause(_service: &str, _operation: &str) {}

/// See above; also called by stages that are not AWS calls (`rotate:<stage>`).
#[cfg(debug_assertions)]
pub(crate) fn test_pause(service: &str, operation: &str) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static SEEN: AtomicUsize = AtomicUsize::new(0);
    let Ok(spec) = std::env::var("MEDPLUM_INIT_TEST_PAUSE_AFTER") else {
        return;
    };
    let (name, nth) = spec
        .split_once('#')
        .map(|(n, k)| (n.to_string(), k.parse().unwrap_or(1)))
        .unwrap_or((spec.clone(), 1));
    if name != format!("{service}:{operation}") {
        return;
    }
    if SEEN.fetch_add(1, Ordering::SeqCst) + 1 == nth {
        crate::printer::Printer::new(crate::printer::OutputMode::Plain)
            .status(&format!("test-pause: {name}#{nth}"));
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityError;

    #[tokio::test]
    async fn ctrl_c_abandons_a_call_that_never_answers_and_the_step_reads_it_as_cancelled() {
        let (events, mut rx) = EventSink::channel();
        let cancel = Cancel::new();
        let c = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            c.cancel();
        });
        let hung =
            std::future::pending::<Result<(), SdkError<GetCallerIdentityError, HttpResponse>>>();
        let err = announced_call(
            &events,
            &cancel,
            StepId::Identity,
            "sts",
            "GetCallerIdentity",
            "us-east-1",
            "caller",
            hung,
        )
        .await
        .unwrap_err();
        assert!(err.is_cancelled(), "{err:?}");
        assert!(matches!(StepError::from(err), StepError::Cancelled));
        drop(events);
        let mut statuses = Vec::new();
        while let Some(e) = rx.recv().await {
            if let Event::AwsCall { status, .. } = e {
                statuses.push(status);
            }
        }
        assert_eq!(statuses, [CallStatus::Started, CallStatus::Failed]);
    }
}
