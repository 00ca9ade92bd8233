//! Line mode: the guided install as a sequence of prompts, for `--output plain` on a terminal
//! and for terminals smaller than the TUI needs. Same questions, defaults, checks and help as
//! the TUI ([`crate::ui::wizard`]), the same review, the same run; progress is the plain log.
//!
//! Prompts go through the [`Prompter`] trait: [`inquire_prompter::InquirePrompter`] asks a
//! person (on stderr), [`Scripted`] answers from a list in tests. Every answer is checked here
//! again after the prompter returns it, so a prompter cannot let a bad value through.

pub mod inquire_prompter;

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;

use tokio::sync::mpsc::UnboundedReceiver;

use crate::answers::{Answers, Overrides};
use crate::config::US_EAST_1;
use crate::config::validators::Check;
use crate::engine::{Event, StepId};
use crate::guided::{Failure, Guide, save_answers};
use crate::outcome::Outcome;
use crate::ui::Renderer;
use crate::ui::handoff::DeployHandoff;
use crate::ui::wizard::help::{field_help, section_intro};
use crate::ui::wizard::review::preview_lines;
use crate::ui::wizard::text::Theme;
use crate::ui::wizard::{Draft, FieldId, Kind, Known, Opt, Section, deploy_request, resume};

/// Why a prompt returned no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptError {
    /// Ctrl-C.
    Interrupted,
    /// Esc: back to the previous section.
    Back,
    /// The terminal (or the script) failed.
    Failed(String),
}

/// One question as a prompter shows it.
#[derive(Debug, Clone)]
pub struct Question<'a> {
    pub label: &'a str,
    /// The long explanation, shown on `?`.
    pub help: &'a str,
    pub default: String,
}

pub trait Prompter {
    /// Free text; `check` is the answers-file validator, for inline feedback.
    fn text(&mut self, q: &Question, check: &dyn Fn(&str) -> Check) -> Result<String, PromptError>;
    /// One of `options`; returns its index.
    fn select(
        &mut self,
        q: &Question,
        options: &[Opt],
        default: usize,
    ) -> Result<usize, PromptError>;
    fn confirm(&mut self, q: &Question, default: bool) -> Result<bool, PromptError>;
    /// Chrome: headings, the review, problems. Never data.
    fn say(&mut self, text: &str);
}

/// Answers from a list, for tests: `""` takes the default, `"<back>"` goes back a section,
/// `"<ctrl-c>"` interrupts. Everything said is kept in `transcript`.
#[derive(Debug, Default)]
pub struct Scripted {
    pub answers: VecDeque<String>,
    pub transcript: Vec<String>,
}

impl Scripted {
    pub fn new<'a>(answers: impl IntoIterator<Item = &'a str>) -> Self {
        Self {
            answers: answers.into_iter().map(str::to_string).collect(),
            transcript: Vec::new(),
        }
    }
    fn next(&mut self, label: &str) -> Result<String, PromptError> {
        let a = self
            .answers
            .pop_front()
            .ok_or_else(|| PromptError::Failed(format!("the script has no answer for {label}")))?;
        self.transcript.push(format!("? {label}: {a}"));
        match a.as_str() {
            "<back>" => Err(PromptError::Back),
            "<ctrl-c>" => Err(PromptError::Interrupted),
            _ => Ok(a),
        }
    }
}

impl Prompter for Scripted {
    fn text(&mut self, q: &Question, _: &dyn Fn(&str) -> Check) -> Result<String, PromptError> {
        let a = self.next(q.label)?;
        Ok(if a.is_empty() { q.default.clone() } else { a })
    }
    fn select(
        &mut self,
        q: &Question,
        options: &[Opt],
        default: usize,
    ) -> Result<usize, PromptError> {
        let a = self.next(q.label)?;
        if a.is_empty() {
            return Ok(default);
        }
        options
            .iter()
            .position(|o| o.value == a || o.label == a)
            .ok_or_else(|| PromptError::Failed(format!("{a} is not a choice of {}", q.label)))
    }
    fn confirm(&mut self, q: &Question, default: bool) -> Result<bool, PromptError> {
        let a = self.next(q.label)?;
        Ok(match a.as_str() {
            "" => default,
            "y" | "yes" => true,
            _ => false,
        })
    }
    fn say(&mut self, text: &str) {
        self.transcript.push(text.to_string());
    }
}

fn ask(p: &mut dyn Prompter, f: FieldId, draft: &mut Draft, k: &Known) -> Result<(), PromptError> {
    let q = Question {
        label: f.label(),
        help: field_help(f),
        default: draft.value(f, k),
    };
    match f.kind() {
        Kind::Text => loop {
            let v = p.text(&q, &|s| f.check(s, draft, k))?;
            match f.check(&v, draft, k) {
                Ok(()) => {
                    draft.set(f, v);
                    break;
                }
                Err((problem, fix)) => p.say(&format!("✗ {problem}: {fix}")),
            }
        },
        Kind::Choice => {
            let opts = f.options(draft, k);
            let def = opts.iter().position(|o| o.value == q.default).unwrap_or(0);
            let i = p.select(&q, &opts, def)?;
            if let Some(o) = opts.get(i) {
                draft.set(f, o.value.clone());
            }
        }
        Kind::Toggle => {
            let yes = p.confirm(&q, q.default == "true")?;
            draft.set(f, yes.to_string());
        }
    }
    draft.normalize(k);
    Ok(())
}

/// Awaits `fut`, rendering the engine's events meanwhile.
async fn with_events<T>(
    fut: impl Future<Output = T>,
    rx: &mut UnboundedReceiver<Event>,
    r: &mut dyn Renderer,
) -> T {
    tokio::pin!(fut);
    loop {
        tokio::select! {
            out = &mut fut => {
                while let Ok(e) = rx.try_recv() {
                    r.render(&e);
                }
                return out;
            }
            Some(e) = rx.recv() => r.render(&e),
        }
    }
}

fn failure_text(f: &Failure) -> String {
    match &f.hint {
        Some(h) => format!("{}\n  hint: {h}", f.message),
        None => f.message.clone(),
    }
}

/// Runs the guided install line by line; returns the exit code.
pub async fn run(
    session: Arc<dyn Guide>,
    mut events: UnboundedReceiver<Event>,
    p: &mut dyn Prompter,
    renderer: &mut dyn Renderer,
    handoff: Arc<dyn DeployHandoff>,
) -> Outcome {
    match flow(session.as_ref(), &mut events, p, renderer, handoff.as_ref()).await {
        Ok(code) => code,
        Err(PromptError::Interrupted) => {
            p.say("interrupted: nothing more was done; run medplum-init again here to resume");
            Outcome::Interrupted
        }
        Err(PromptError::Back) => Outcome::Done,
        Err(PromptError::Failed(e)) => {
            p.say(&format!("error: {e}"));
            Outcome::Failed
        }
    }
}

async fn flow(
    session: &dyn Guide,
    rx: &mut UnboundedReceiver<Event>,
    p: &mut dyn Prompter,
    r: &mut dyn Renderer,
    handoff: &dyn DeployHandoff,
) -> Result<Outcome, PromptError> {
    let opts = session.options();
    let env = resume::discover_env(&opts.dir, opts.env.as_deref());
    let (mut draft, found, notes) = match &env {
        Some(e) => resume::load(&opts.dir, e),
        None => (Draft::default(), None, Vec::new()),
    };
    let mut k = Known {
        default_region: opts.region.clone(),
        ..Known::default()
    };
    p.say("medplum-init: guided install. Type ? for help on a question; Esc goes back a section.");
    for n in notes {
        p.say(&format!("! {n}"));
    }
    if session.online() {
        let (caller, zones) = with_events(
            async { tokio::join!(session.caller(), session.zones()) },
            rx,
            r,
        )
        .await;
        match caller {
            Ok(c) => {
                p.say(&format!("AWS account {} as {}", c.account, c.arn));
                k.caller = Some(c);
            }
            Err(f) => p.say(&format!("! no AWS identity: {}", failure_text(&f))),
        }
        if let Ok(z) = zones {
            k.zones = Some(z);
        }
    }

    let mut keep = false;
    if let Some(res) = found.as_ref().filter(|r| r.has_answers()) {
        let done: Vec<_> = res.done().map(|s| s.title()).collect();
        p.say(&format!(
            "Resuming {}: answers from {}{}.",
            res.env,
            res.sources.join(" and "),
            if done.is_empty() {
                String::new()
            } else {
                format!("; done: {}", done.join(", "))
            }
        ));
        keep = draft.answers(&k, &Overrides::default()).is_ok()
            && p.confirm(
                &Question {
                    label: "Keep those answers and go to the review",
                    help: "No goes through every question, with the earlier answers as defaults.",
                    default: "true".into(),
                },
                true,
            )?;
    }
    if !keep {
        questions(session, rx, r, p, &mut draft, &mut k).await?;
    }
    let answers = loop {
        match draft.answers(&k, &Overrides::default()) {
            Ok(a) => break a,
            Err(invalid) => {
                p.say(&invalid.to_string());
                let fields: Vec<_> = invalid
                    .errors
                    .iter()
                    .filter_map(|e| FieldId::from_answer_key(&e.key))
                    .collect();
                if fields.len() < invalid.errors.len() {
                    return Ok(Outcome::Invalid);
                }
                for f in fields {
                    ask(p, f, &mut draft, &k)?;
                }
            }
        }
    };
    review_and_run(session, rx, r, p, &draft, &k, answers, handoff).await
}

async fn questions(
    session: &dyn Guide,
    rx: &mut UnboundedReceiver<Event>,
    r: &mut dyn Renderer,
    p: &mut dyn Prompter,
    draft: &mut Draft,
    k: &mut Known,
) -> Result<(), PromptError> {
    let mut i = 0;
    while let Some(s) = Section::QUESTIONS.get(i).copied() {
        p.say(&format!(
            "\n── {} ({}/{})",
            s.title(),
            i + 1,
            Section::QUESTIONS.len()
        ));
        p.say(section_intro(s));
        if s == Section::Certificates && session.online() {
            let mut regions = vec![draft.value(FieldId::Region, k)];
            if regions[0] != US_EAST_1 {
                regions.push(US_EAST_1.into());
            }
            for region in regions {
                if k.certificates.contains_key(&region) {
                    continue;
                }
                if let Ok(list) = with_events(session.certificates(&region), rx, r).await {
                    k.certificates.insert(region, list);
                }
            }
        }
        let mut result = Ok(());
        for f in FieldId::of(s) {
            if f.visible(draft, k) {
                result = ask(p, f, draft, k);
                if result.is_err() {
                    break;
                }
            }
        }
        match result {
            Ok(()) => i += 1,
            Err(PromptError::Back) => i = i.saturating_sub(1),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn plain_lines(lines: Vec<ratatui::text::Line<'_>>) -> String {
    lines
        .iter()
        .map(|l| {
            l.spans
                .iter()
                .map(|s| s.content.as_ref())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[allow(clippy::too_many_arguments)]
async fn review_and_run(
    session: &dyn Guide,
    rx: &mut UnboundedReceiver<Event>,
    r: &mut dyn Renderer,
    p: &mut dyn Prompter,
    draft: &Draft,
    k: &Known,
    answers: Answers,
    handoff: &dyn DeployHandoff,
) -> Result<Outcome, PromptError> {
    p.say("\n── Review");
    if session.online() {
        loop {
            match with_events(session.preview(answers.clone()), rx, r).await {
                Ok(preview) => {
                    p.say(&plain_lines(preview_lines(
                        &preview,
                        100,
                        Theme { color: false },
                    )));
                    break;
                }
                Err(f) => {
                    p.say(&format!(
                        "AWS could not be read for the review: {}",
                        failure_text(&f)
                    ));
                    if !p.confirm(&retry_q("Read AWS again"), true)? {
                        return Ok(Outcome::Failed);
                    }
                }
            }
        }
    } else {
        p.say("Dry run: nothing in AWS will be touched. The answers:");
        p.say(&draft.to_toml(k));
    }
    let apply = p.confirm(
        &Question {
            label: "Apply all of this",
            help: "Nothing has been written yet. No stops here; the answers are kept for next time \
                   when --save-answers is given.",
            default: "false".into(),
        },
        false,
    )?;
    if let Some(path) = &session.options().save_answers {
        match save_answers(path, &draft.saveable_toml(k)) {
            Ok(()) => p.say(&format!("answers saved to {}", path.display())),
            Err(e) => p.say(&format!(
                "! could not save the answers to {}: {e}",
                path.display()
            )),
        }
    }
    if !apply {
        p.say("nothing was written.");
        return Ok(Outcome::Done);
    }
    let text = draft.to_toml(k);
    let cancel = session.cancel().clone();
    let watch = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            cancel.cancel();
        }
    });
    let mut only: Option<Vec<StepId>> = None;
    let mut finished: Vec<StepId> = Vec::new();
    let report = loop {
        let result = with_events(session.run(answers.clone(), &text, only.clone()), rx, r).await;
        let report = match result {
            Ok(rep) => rep,
            Err(f) => {
                p.say(&format!("✗ {}", failure_text(&f)));
                return Ok(Outcome::Failed);
            }
        };
        if report.ok || report.interrupted {
            break report;
        }
        let failed: Vec<StepId> = report.failed.iter().map(|(s, _)| *s).collect();
        let ran: Vec<StepId> = only.clone().unwrap_or_else(|| StepId::ALL.to_vec());
        finished.extend(ran.iter().filter(|s| !failed.contains(s)));
        let choices = [
            Opt {
                value: "retry".into(),
                label: "Retry".into(),
                hint: "after fixing what the hint says".into(),
            },
            Opt {
                value: "skip".into(),
                label: "Skip the failed step".into(),
                hint: "go on without it".into(),
            },
            Opt {
                value: "quit".into(),
                label: "Quit".into(),
                hint: "finished work is kept".into(),
            },
        ];
        let pick = p.select(&retry_q("The run stopped"), &choices, 0)?;
        let rest = |finished: &[StepId], with_failed: bool| -> Vec<StepId> {
            StepId::ALL
                .into_iter()
                .filter(|s| !finished.contains(s) && (with_failed || !failed.contains(s)))
                .collect()
        };
        match choices[pick].value.as_str() {
            "retry" => only = Some(rest(&finished, true)),
            "skip" => {
                finished.extend(&failed);
                let next = rest(&finished, false);
                if next.is_empty() {
                    break report;
                }
                only = Some(next);
            }
            _ => return Ok(report.outcome()),
        }
    };
    watch.abort();
    r.finish();
    if report.interrupted {
        return Ok(Outcome::Interrupted);
    }
    let req = deploy_request(&session.options().dir, &answers);
    p.say(&format!("config file: {}", req.config_path.display()));
    let mut options = vec![Opt {
        value: "later".into(),
        label: "Deploy later".into(),
        hint: "print the command".into(),
    }];
    if handoff.available() {
        options.insert(
            0,
            Opt {
                value: "now".into(),
                label: "Deploy now".into(),
                hint: "about 30 minutes the first time".into(),
            },
        );
    }
    let pick = p.select(&retry_q("Deploy the Medplum stacks"), &options, 0)?;
    if options[pick].value == "now" {
        session.release();
        return Ok(handoff.deploy_now(&req).await);
    }
    crate::printer::Printer::new(crate::printer::OutputMode::Plain)
        .data_line(&format!("deploy with:\n  {}", handoff.later_command(&req)));
    Ok(Outcome::Done)
}

fn retry_q(label: &str) -> Question<'_> {
    Question {
        label,
        help: "Retry runs the step again; skip goes on without it; quit keeps finished work, and \
               running medplum-init again resumes.",
        default: String::new(),
    }
}

#[cfg(test)]
mod tests;
