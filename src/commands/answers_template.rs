//! `medplum-init answers-template`: the fully commented answers file, on stdout.

use super::{Command, CommandError, Confirmed, Cx, Outcome, drive, run_blocking};

pub fn run(cx: &Cx) -> Outcome {
    run_blocking(cx, drive::<AnswersTemplate>((), cx))
}

pub struct AnswersTemplate;

impl Command for AnswersTemplate {
    type Args = ();
    type Plan = &'static str;
    type Applied = ();

    fn resolve(_args: (), _cx: &Cx) -> Result<Self, CommandError> {
        Ok(Self)
    }

    fn validate(&mut self, _cx: &Cx) -> Result<(), CommandError> {
        Ok(())
    }

    async fn plan(&mut self, _cx: &Cx) -> Result<&'static str, CommandError> {
        Ok(crate::answers::template::TEMPLATE)
    }

    async fn confirm(
        &mut self,
        _cx: &Cx,
        plan: &'static str,
    ) -> Result<Confirmed<&'static str>, CommandError> {
        Ok(Confirmed::Go(plan))
    }

    async fn apply(&mut self, cx: &Cx, text: &'static str) -> Result<(), CommandError> {
        cx.printer
            .data(text)
            .map_err(|e| CommandError::failed(format!("cannot write to stdout: {e}"), None))
    }

    async fn report(&mut self, _cx: &Cx, _applied: ()) -> Outcome {
        Outcome::Done
    }
}
