//! How the TUI's state changes: one function per message (a key, a tick, an engine event, a
//! look-up's answer), each returning the commands the event loop should start. Nothing here
//! waits, draws or touches AWS, so every transition is testable with plain values.

use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::app::{App, CALLER, Confirmed, Exit, Level, Lookup, Phase, StepRun, ZONES, certs_key};
use crate::answers::{Answers, Overrides};
use crate::config::US_EAST_1;
use crate::config::zones::Zone;
use crate::engine::{Event, Outcome, RunReport, StepId};
use crate::guided::Failure;
use crate::steps::lookup::{Caller, CertSummary};
use crate::steps::preview::Preview;
use crate::ui::wizard::{FieldId, Kind, Section};

/// Everything that can happen to the TUI.
#[derive(Debug)]
pub enum Msg {
    Key(KeyEvent),
    Paste(String),
    Tick(Duration),
    Resize(u16, u16),
    Engine(Event),
    Caller(Result<Caller, Failure>),
    Zones(Result<Vec<Zone>, Failure>),
    Certs(String, Result<Vec<CertSummary>, Failure>),
    Preview(Result<Preview, Failure>),
    RunDone(Result<RunReport, Failure>),
    /// SIGINT or SIGTERM from outside the terminal.
    Interrupt,
}

/// Work the event loop starts on behalf of the state.
#[derive(Debug)]
pub enum Cmd {
    LookupCaller,
    LookupZones,
    LookupCerts(String),
    Preview(Box<Answers>),
    Run {
        confirmed: Confirmed,
        only: Option<Vec<StepId>>,
    },
    /// `--save-answers`: the text to write (no secrets).
    SaveAnswers(String),
    /// Stop the run at its next safe point.
    Cancel,
}

/// The first commands: look-ups, and straight to the review when an earlier run left complete
/// answers.
pub fn init(app: &mut App) -> Vec<Cmd> {
    let mut cmds = Vec::new();
    if !app.dry_run {
        app.lookups.insert(CALLER.into(), Lookup::Loading);
        app.lookups.insert(ZONES.into(), Lookup::Loading);
        cmds.push(Cmd::LookupCaller);
        cmds.push(Cmd::LookupZones);
    }
    let resumable = app.resume.as_ref().is_some_and(|r| r.has_answers());
    if resumable && app.draft.answers(&app.known, &Overrides::default()).is_ok() {
        app.answered.extend(Section::QUESTIONS);
        cmds.extend(go_review(app));
    }
    cmds
}

pub fn update(app: &mut App, msg: Msg) -> Vec<Cmd> {
    match msg {
        Msg::Key(k) if k.kind == KeyEventKind::Release => Vec::new(),
        Msg::Key(k) => key(app, k),
        Msg::Paste(text) => {
            if let Some(f) = app.focused().filter(|f| f.kind() == Kind::Text) {
                let clean: String = text.chars().filter(|c| !c.is_control()).collect();
                for c in clean.chars() {
                    insert(app, f, c);
                }
            }
            Vec::new()
        }
        Msg::Tick(now) => {
            app.now = now;
            Vec::new()
        }
        Msg::Resize(w, h) => {
            app.size = (w, h);
            Vec::new()
        }
        Msg::Engine(e) => {
            super::events::engine(app, e);
            Vec::new()
        }
        Msg::Caller(r) => {
            let r = r.map(|c| app.known.caller = Some(c));
            looked_up(app, CALLER, r);
            Vec::new()
        }
        Msg::Zones(r) => {
            let r = r.map(|z| app.known.zones = Some(z));
            looked_up(app, ZONES, r);
            Vec::new()
        }
        Msg::Certs(region, r) => {
            let key = certs_key(&region);
            let r = r.map(|list| {
                app.known.certificates.insert(region, list);
            });
            looked_up(app, &key, r);
            Vec::new()
        }
        Msg::Preview(r) => {
            if app.phase == Phase::Previewing {
                match r {
                    Ok(p) => app.preview = Some(p),
                    Err(f) => app.preview_error = Some(f),
                }
                app.phase = Phase::Review;
            }
            Vec::new()
        }
        Msg::RunDone(r) => {
            super::events::run_done(app, r);
            Vec::new()
        }
        Msg::Interrupt => interrupt(app),
    }
}

fn looked_up(app: &mut App, key: &str, r: Result<(), Failure>) {
    let state = match r {
        Ok(()) => Lookup::Done,
        Err(f) => {
            app.note(
                Level::Warn,
                format!("look-up failed: {}", f.message),
                f.hint.clone(),
            );
            Lookup::Failed(f.message)
        }
    };
    app.lookups.insert(key.into(), state);
    app.draft.normalize(&app.known);
    clamp_cursor(app);
}

fn ctrl(k: &KeyEvent, c: char) -> bool {
    k.modifiers.contains(KeyModifiers::CONTROL) && k.code == KeyCode::Char(c)
}

fn key(app: &mut App, k: KeyEvent) -> Vec<Cmd> {
    if ctrl(&k, 'c') {
        return interrupt(app);
    }
    match app.phase {
        Phase::Asking => asking(app, k),
        Phase::Previewing => {
            if k.code == KeyCode::Esc {
                back_to_questions(app);
            }
            Vec::new()
        }
        Phase::Review => review(app, k),
        Phase::Running => {
            scroll(app, &k);
            Vec::new()
        }
        Phase::Failed => failed(app, k),
        Phase::Finished => finished(app, k),
    }
}

fn interrupt(app: &mut App) -> Vec<Cmd> {
    if app.phase == Phase::Running && !app.cancelling {
        app.cancelling = true;
        app.note(
            Level::Warn,
            "interrupted: stopping at the next safe point (Ctrl-C again quits at once)",
            None,
        );
        return vec![Cmd::Cancel];
    }
    app.exit = Some(Exit::Code(crate::outcome::Outcome::Interrupted));
    Vec::new()
}

fn asking(app: &mut App, k: KeyEvent) -> Vec<Cmd> {
    let Some(f) = app.focused() else {
        return match k.code {
            KeyCode::Enter | KeyCode::PageDown => try_next(app),
            KeyCode::Esc | KeyCode::PageUp => {
                back(app);
                Vec::new()
            }
            _ => Vec::new(),
        };
    };
    match k.code {
        KeyCode::Tab => next_field(app),
        KeyCode::BackTab => prev_field(app),
        KeyCode::Enter => {
            if app.focus + 1 >= app.fields().len() {
                return try_next(app);
            }
            next_field(app);
        }
        KeyCode::Esc | KeyCode::PageUp => back(app),
        KeyCode::PageDown => return try_next(app),
        _ => match f.kind() {
            Kind::Text => text_key(app, f, &k),
            Kind::Choice => choice_key(app, f, &k),
            Kind::Toggle => toggle_key(app, f, &k),
        },
    }
    Vec::new()
}

fn text_key(app: &mut App, f: FieldId, k: &KeyEvent) {
    let mut chars: Vec<char> = app.value(f).chars().collect();
    let plain = !k
        .modifiers
        .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
    match k.code {
        KeyCode::Char(c) if plain => return insert(app, f, c),
        KeyCode::Char('u') if ctrl(k, 'u') => {
            chars.clear();
            app.cursor = 0;
        }
        KeyCode::Backspace if app.cursor > 0 => {
            app.cursor -= 1;
            chars.remove(app.cursor);
        }
        KeyCode::Delete if app.cursor < chars.len() => {
            chars.remove(app.cursor);
        }
        KeyCode::Left => app.cursor = app.cursor.saturating_sub(1),
        KeyCode::Right => app.cursor = (app.cursor + 1).min(chars.len()),
        KeyCode::Home => app.cursor = 0,
        KeyCode::End => app.cursor = chars.len(),
        KeyCode::Up => return prev_field(app),
        KeyCode::Down => return next_field(app),
        _ => return,
    }
    set(app, f, chars.into_iter().collect());
}

fn insert(app: &mut App, f: FieldId, c: char) {
    let mut chars: Vec<char> = app.value(f).chars().collect();
    let at = app.cursor.min(chars.len());
    chars.insert(at, c);
    app.cursor = at + 1;
    set(app, f, chars.into_iter().collect());
}

fn set(app: &mut App, f: FieldId, value: String) {
    app.draft.set(f, value);
    app.cross_errors.remove(&f);
    app.draft.normalize(&app.known);
}

fn choice_key(app: &mut App, f: FieldId, k: &KeyEvent) {
    let opts = f.options(&app.draft, &app.known);
    if opts.is_empty() {
        return;
    }
    let value = app.value(f);
    let cur = opts.iter().position(|o| o.value == value).unwrap_or(0);
    let last = opts.len() - 1;
    let next = match k.code {
        KeyCode::Up | KeyCode::Left | KeyCode::Char('k') => cur.saturating_sub(1),
        KeyCode::Down | KeyCode::Right | KeyCode::Char('j') => (cur + 1).min(last),
        KeyCode::Home => 0,
        KeyCode::End => last,
        // Type a letter to jump to the next choice that starts with it (regions: "e" → eu-…).
        KeyCode::Char(c) if c.is_alphanumeric() => {
            let c = c.to_ascii_lowercase();
            let starts = |i: &usize| opts[*i].label.to_ascii_lowercase().starts_with(c);
            match (cur + 1..=last).chain(0..=cur).find(starts) {
                Some(i) => i,
                None => return,
            }
        }
        _ => return,
    };
    set(app, f, opts[next].value.clone());
}

fn toggle_key(app: &mut App, f: FieldId, k: &KeyEvent) {
    let on = app.value(f) == "true";
    let new = match k.code {
        KeyCode::Left | KeyCode::Right | KeyCode::Char(' ') => !on,
        KeyCode::Char('y') | KeyCode::Char('Y') => true,
        KeyCode::Char('n') | KeyCode::Char('N') => false,
        KeyCode::Up => return prev_field(app),
        KeyCode::Down => return next_field(app),
        _ => return,
    };
    set(app, f, new.to_string());
}

fn focus(app: &mut App, i: usize) {
    app.focus = i;
    app.cursor = app.focused_value().chars().count();
}

fn next_field(app: &mut App) {
    let n = app.fields().len();
    if app.focus + 1 < n {
        focus(app, app.focus + 1);
    }
}

fn prev_field(app: &mut App) {
    if app.focus > 0 {
        focus(app, app.focus - 1);
    }
}

fn clamp_cursor(app: &mut App) {
    let n = app.fields().len();
    if app.focus >= n {
        app.focus = n.saturating_sub(1);
    }
    app.cursor = app.cursor.min(app.focused_value().chars().count());
}

/// Moves to `s` (a question section), starting the look-ups it needs.
pub fn enter_section(app: &mut App, s: Section) -> Vec<Cmd> {
    app.section = s;
    app.phase = Phase::Asking;
    app.show_errors = false;
    app.scroll = 0;
    focus(app, 0);
    let mut cmds = Vec::new();
    if s == Section::Certificates && !app.dry_run {
        let mut regions = vec![app.region()];
        if !regions.contains(&US_EAST_1.to_string()) {
            regions.push(US_EAST_1.into());
        }
        for r in regions {
            let key = certs_key(&r);
            if !matches!(app.lookups.get(&key), Some(Lookup::Loading | Lookup::Done)) {
                app.lookups.insert(key, Lookup::Loading);
                cmds.push(Cmd::LookupCerts(r));
            }
        }
    }
    cmds
}

fn back(app: &mut App) {
    if let Some(p) = app.section.prev().filter(|p| p.is_question()) {
        enter_section(app, p);
        focus(app, 0);
    }
}

fn back_to_questions(app: &mut App) {
    app.preview = None;
    app.preview_error = None;
    enter_section(app, Section::Parameters);
}

/// "Next" from a section: every field must pass its check, and the answers as a whole must not
/// object to anything asked so far.
fn try_next(app: &mut App) -> Vec<Cmd> {
    let fields = app.fields();
    if let Some(i) = fields
        .iter()
        .position(|f| f.check(&app.value(*f), &app.draft, &app.known).is_err())
    {
        app.show_errors = true;
        focus(app, i);
        return Vec::new();
    }
    if jump_to_cross_error(app, app.section) {
        return Vec::new();
    }
    app.answered.insert(app.section);
    match app.section.next() {
        Some(Section::Review) | None => go_review(app),
        Some(s) => enter_section(app, s),
    }
}

/// Validates the whole draft; problems with questions up to `upto` are attached to their
/// fields and the first one is focused. Returns whether there was one.
fn jump_to_cross_error(app: &mut App, upto: Section) -> bool {
    app.cross_errors.clear();
    app.other_errors.clear();
    let Err(invalid) = app.draft.answers(&app.known, &Overrides::default()) else {
        return false;
    };
    for e in invalid.errors {
        match FieldId::from_answer_key(&e.key) {
            Some(f) if f.section() <= upto => {
                app.cross_errors.insert(f, (e.problem, e.fix));
            }
            Some(_) => {}
            None => app.other_errors.push(e),
        }
    }
    let first = crate::ui::wizard::FieldId::ALL
        .into_iter()
        .find(|f| app.cross_errors.contains_key(f));
    let Some(f) = first else {
        return upto == Section::Review && !app.other_errors.is_empty();
    };
    if f.section() != app.section || app.phase != Phase::Asking {
        enter_section(app, f.section());
    }
    app.show_errors = true;
    if let Some(i) = app.fields().iter().position(|x| *x == f) {
        focus(app, i);
    }
    true
}

/// Validates everything and, when it holds, reads AWS for the review.
pub fn go_review(app: &mut App) -> Vec<Cmd> {
    if jump_to_cross_error(app, Section::Review) && app.other_errors.is_empty() {
        return Vec::new();
    }
    app.section = Section::Review;
    app.scroll = 0;
    app.preview = None;
    app.preview_error = None;
    if !app.other_errors.is_empty() {
        app.phase = Phase::Review;
        return Vec::new();
    }
    let answers = app
        .draft
        .answers(&app.known, &Overrides::default())
        .expect("validated just now");
    if app.dry_run {
        app.phase = Phase::Review;
        return Vec::new();
    }
    app.phase = Phase::Previewing;
    vec![Cmd::Preview(Box::new(answers))]
}

fn review(app: &mut App, k: KeyEvent) -> Vec<Cmd> {
    match k.code {
        KeyCode::Esc => back_to_questions(app),
        KeyCode::Char('r') if app.preview_error.is_some() => return go_review(app),
        KeyCode::Enter if app.other_errors.is_empty() => {
            if app.preview.is_some() || app.dry_run {
                return confirm(app);
            }
        }
        _ => scroll(app, &k),
    }
    Vec::new()
}

fn confirm(app: &mut App) -> Vec<Cmd> {
    let Ok(answers) = app.draft.answers(&app.known, &Overrides::default()) else {
        return go_review(app);
    };
    let confirmed = Confirmed {
        answers: Arc::new(answers),
        text: app.draft.to_toml(&app.known),
    };
    app.confirmed = Some(confirmed.clone());
    app.phase = Phase::Running;
    app.scroll = 0;
    app.steps = StepId::ALL.iter().map(|s| (*s, StepRun::Pending)).collect();
    vec![
        Cmd::SaveAnswers(app.draft.saveable_toml(&app.known)),
        Cmd::Run {
            confirmed,
            only: None,
        },
    ]
}

fn scroll(app: &mut App, k: &KeyEvent) {
    app.scroll = match k.code {
        KeyCode::Up | KeyCode::Char('k') => app.scroll.saturating_sub(1),
        KeyCode::Down | KeyCode::Char('j') => app.scroll.saturating_add(1),
        KeyCode::PageUp => app.scroll.saturating_sub(10),
        KeyCode::PageDown => app.scroll.saturating_add(10),
        KeyCode::Home => 0,
        _ => app.scroll,
    };
}

fn failed(app: &mut App, k: KeyEvent) -> Vec<Cmd> {
    let Some(confirmed) = app.confirmed.clone() else {
        return Vec::new();
    };
    match k.code {
        KeyCode::Char('r') => {
            let ids = remaining(app, true);
            start(app, confirmed, ids)
        }
        KeyCode::Char('s') => {
            for (_, run) in app.steps.iter_mut() {
                if matches!(run, StepRun::Failed { .. }) {
                    *run = StepRun::Finished {
                        outcome: Outcome::Skipped,
                        summary: "skipped after it failed".into(),
                        took: Duration::ZERO,
                    };
                }
            }
            let ids = remaining(app, false);
            if ids.is_empty() {
                app.failure = None;
                finish(app);
                return Vec::new();
            }
            start(app, confirmed, ids)
        }
        KeyCode::Char('q') | KeyCode::Esc => {
            app.exit = Some(Exit::Code(crate::outcome::Outcome::Failed));
            Vec::new()
        }
        _ => {
            scroll(app, &k);
            Vec::new()
        }
    }
}

/// Steps not finished in this session; failed ones only with `include_failed`.
fn remaining(app: &App, include_failed: bool) -> Vec<StepId> {
    StepId::ALL
        .into_iter()
        .filter(|id| match app.steps.get(id) {
            Some(StepRun::Finished { .. }) => false,
            Some(StepRun::Failed { .. }) => include_failed,
            _ => true,
        })
        .collect()
}

fn start(app: &mut App, confirmed: Confirmed, ids: Vec<StepId>) -> Vec<Cmd> {
    for id in &ids {
        app.steps.insert(*id, StepRun::Pending);
    }
    app.failure = None;
    app.phase = Phase::Running;
    vec![Cmd::Run {
        confirmed,
        only: Some(ids),
    }]
}

fn finished(app: &mut App, k: KeyEvent) -> Vec<Cmd> {
    match k.code {
        KeyCode::Up | KeyCode::Down | KeyCode::Left | KeyCode::Right | KeyCode::Tab
            if app.deploy_available =>
        {
            app.deploy_choice = 1 - app.deploy_choice.min(1);
        }
        KeyCode::Enter => {
            app.exit = Some(if app.deploy_choice == 0 && app.deploy_available {
                Exit::DeployNow
            } else {
                Exit::DeployLater
            });
        }
        KeyCode::Char('q') | KeyCode::Esc => app.exit = Some(Exit::DeployLater),
        _ => scroll(app, &k),
    }
    Vec::new()
}

pub(super) fn finish(app: &mut App) {
    app.phase = Phase::Finished;
    app.section = Section::Deploy;
    app.scroll = 0;
    app.deploy_choice = if app.deploy_available { 0 } else { 1 };
}
