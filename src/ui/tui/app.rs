//! The TUI's whole state, one plain struct: where the user is, the answers so far, what the
//! look-ups found, and what the engine reported. [`super::update`] changes it; [`super::draw`]
//! only reads it. Time is a `Duration` since start that the loop passes in, so snapshots of
//! spinners and elapsed times are reproducible.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use crate::answers::{AnswerError, Answers};
use crate::engine::event::DnsRecord;
use crate::engine::{CallStatus, Outcome, ParameterChange, RunReport, StepId};
use crate::guided::Failure;
use crate::steps::preview::Preview;
use crate::ui::wizard::resume::Resume;
use crate::ui::wizard::{Draft, FieldId, Known, Section};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Answering the questions of `App::section`.
    Asking,
    /// Reading AWS for the review.
    Previewing,
    /// The review is on screen (or its preview failed); nothing written yet.
    Review,
    /// The steps are running.
    Running,
    /// A step failed: retry, skip or quit.
    Failed,
    /// All done: deploy now or later.
    Finished,
}

/// How the loop should end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(crate::outcome::Outcome),
    DeployNow,
    DeployLater,
}

/// A look-up's progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Loading,
    Done,
    Failed(String),
}

/// One engine step, as the progress view shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepRun {
    Pending,
    Running {
        since: Duration,
    },
    Finished {
        outcome: Outcome,
        summary: String,
        took: Duration,
    },
    Failed {
        error: String,
        hint: Option<String>,
    },
}

/// One AWS call in the activity pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRow {
    pub step: StepId,
    pub service: String,
    pub operation: String,
    pub region: String,
    pub resource: String,
    pub status: CallStatus,
    pub started: Duration,
    pub elapsed_ms: Option<u64>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Activity {
    Call(CallRow),
    Note {
        level: Level,
        text: String,
        hint: Option<String>,
    },
}

/// A certificate's latest status, updated live while waiting for ISSUED.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertRow {
    pub purpose: String,
    pub domain: String,
    pub region: String,
    pub arn: String,
    pub status: String,
    pub records: Vec<DnsRecord>,
    pub updated: Duration,
}

/// What the run was asked to do: the answers and their text, kept for retries.
#[derive(Debug, Clone)]
pub struct Confirmed {
    pub answers: Arc<Answers>,
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct App {
    pub section: Section,
    pub phase: Phase,
    /// Index of the focused field among the section's visible fields.
    pub focus: usize,
    /// Cursor in the focused text field, in characters.
    pub cursor: usize,
    pub draft: Draft,
    pub known: Known,
    pub lookups: BTreeMap<String, Lookup>,
    /// Sections the user has moved past.
    pub answered: BTreeSet<Section>,
    /// Show every field's error in the current section (after a refused "next").
    pub show_errors: bool,
    /// Cross-field problems from the answers' validation, by field.
    pub cross_errors: BTreeMap<FieldId, (String, String)>,
    /// Problems that belong to no question (shown on the review).
    pub other_errors: Vec<AnswerError>,
    pub preview: Option<Preview>,
    pub preview_error: Option<Failure>,
    pub confirmed: Option<Confirmed>,
    pub steps: BTreeMap<StepId, StepRun>,
    pub certs: Vec<CertRow>,
    pub changes: Vec<ParameterChange>,
    pub activity: Vec<Activity>,
    pub failure: Option<(Option<StepId>, Failure)>,
    pub report: Option<RunReport>,
    pub files: Vec<String>,
    pub resume: Option<Resume>,
    pub notes: Vec<String>,
    /// Scroll offset of the review and progress views.
    pub scroll: u16,
    pub now: Duration,
    pub size: (u16, u16),
    pub color: bool,
    pub dry_run: bool,
    pub deploy_available: bool,
    /// 0: deploy now, 1: later.
    pub deploy_choice: usize,
    pub cancelling: bool,
    pub exit: Option<Exit>,
}

/// The minimum the layout is made for.
pub const MIN_SIZE: (u16, u16) = (80, 24);

impl App {
    pub fn new(draft: Draft, known: Known, resume: Option<Resume>) -> Self {
        let mut app = Self {
            section: Section::Environment,
            phase: Phase::Asking,
            focus: 0,
            cursor: 0,
            draft,
            known,
            lookups: BTreeMap::new(),
            answered: BTreeSet::new(),
            show_errors: false,
            cross_errors: BTreeMap::new(),
            other_errors: Vec::new(),
            preview: None,
            preview_error: None,
            confirmed: None,
            steps: BTreeMap::new(),
            certs: Vec::new(),
            changes: Vec::new(),
            activity: Vec::new(),
            failure: None,
            report: None,
            files: Vec::new(),
            resume,
            notes: Vec::new(),
            scroll: 0,
            now: Duration::ZERO,
            size: MIN_SIZE,
            color: true,
            dry_run: false,
            deploy_available: false,
            deploy_choice: 1,
            cancelling: false,
            exit: None,
        };
        app.cursor = app.focused_value().chars().count();
        app
    }

    /// The visible fields of the current section.
    pub fn fields(&self) -> Vec<FieldId> {
        FieldId::of(self.section)
            .filter(|f| f.visible(&self.draft, &self.known))
            .collect()
    }

    pub fn focused(&self) -> Option<FieldId> {
        if self.phase != Phase::Asking {
            return None;
        }
        let fields = self.fields();
        fields
            .get(self.focus.min(fields.len().saturating_sub(1)))
            .copied()
    }

    pub fn value(&self, f: FieldId) -> String {
        self.draft.value(f, &self.known)
    }

    pub fn focused_value(&self) -> String {
        self.focused().map(|f| self.value(f)).unwrap_or_default()
    }

    /// The problem to show under a field, if any: its own check (live for the focused field,
    /// for all after a refused "next"), else a cross-field problem.
    pub fn field_error(&self, f: FieldId) -> Option<(String, String)> {
        // An empty field just focused is not an error yet: say "required" only once the user
        // tried to move on.
        let value = self.value(f);
        let live = self.show_errors || (self.focused() == Some(f) && !value.is_empty());
        if live && let Err(e) = f.check(&value, &self.draft, &self.known) {
            return Some(e);
        }
        self.cross_errors.get(&f).cloned()
    }

    /// The step a run is on, or last failed at.
    pub fn run_started(&self) -> bool {
        matches!(self.phase, Phase::Running | Phase::Failed | Phase::Finished)
    }

    /// Whether a step finished (done, unchanged or skipped) in this session.
    pub fn step_finished(&self, id: StepId) -> bool {
        matches!(self.steps.get(&id), Some(StepRun::Finished { .. }))
    }

    pub fn lookup(&self, key: &str) -> Option<&Lookup> {
        self.lookups.get(key)
    }

    /// Adds a line to the activity pane, keeping the pane's history bounded.
    pub fn note(&mut self, level: Level, text: impl Into<String>, hint: Option<String>) {
        self.push(Activity::Note {
            level,
            text: text.into(),
            hint,
        });
    }

    pub fn push(&mut self, a: Activity) {
        const KEEP: usize = 500;
        self.activity.push(a);
        if self.activity.len() > KEEP {
            self.activity.drain(..self.activity.len() - KEEP);
        }
    }

    /// Calls still waiting for AWS.
    pub fn in_flight(&self) -> impl Iterator<Item = &CallRow> {
        self.activity.iter().filter_map(|a| match a {
            Activity::Call(c) if c.status == CallStatus::Started => Some(c),
            _ => None,
        })
    }

    pub fn env(&self) -> String {
        self.value(FieldId::Name)
    }

    pub fn region(&self) -> String {
        self.value(FieldId::Region)
    }

    pub fn too_small(&self) -> bool {
        self.size.0 < MIN_SIZE.0 || self.size.1 < MIN_SIZE.1
    }
}

/// The lookup key for certificates of a region.
pub fn certs_key(region: &str) -> String {
    format!("certificates:{region}")
}

pub const CALLER: &str = "caller";
pub const ZONES: &str = "zones";
