//! `draw(&App, &mut Frame)`: the read-only view. The frame is split into a header, the steps
//! sidebar, the main pane (the current screen, see [`super::screens`]), the help pane, the AWS
//! activity pane and the key-hint bar. At 140 columns and more the help pane sits beside the
//! main pane; below that, under it, sized to its text.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::app::{Activity, App, CALLER, Level, Lookup, Phase, StepRun};
use super::screens;
use super::widgets::{elapsed, spinner};
use crate::engine::journal::StepStatus;
use crate::engine::{CallStatus, Outcome};
use crate::ui::wizard::Section;
use crate::ui::wizard::help::{field_help, section_intro};
use crate::ui::wizard::text::{Theme, fit, pad, row};

pub struct Areas {
    pub header: Rect,
    pub sidebar: Rect,
    pub main: Rect,
    pub help: Rect,
    pub log: Rect,
    pub keys: Rect,
}

/// Splits the screen. `help_lines` is how many lines the help text takes at the narrow layout's
/// width; the help pane grows to show it all when the main pane can spare the rows.
pub fn layout(area: Rect, help_lines: impl Fn(u16) -> u16, max_help_lines: u16) -> Areas {
    let wide = area.width >= 140;
    let log_h = if area.height >= 34 { 9 } else { 5 };
    let [header, body, log, keys] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(10),
        Constraint::Length(log_h),
        Constraint::Length(1),
    ])
    .areas(area);
    let side_w = if wide { 27 } else { 25 };
    let [sidebar, rest] =
        Layout::horizontal([Constraint::Length(side_w), Constraint::Min(20)]).areas(body);
    let (main, help) = if wide {
        let help_w = (rest.width * 2 / 5).clamp(30, 48);
        let [m, h] =
            Layout::horizontal([Constraint::Min(40), Constraint::Length(help_w)]).areas(rest);
        (m, h)
    } else {
        let want = help_lines(rest.width.saturating_sub(2)).min(max_help_lines) + 2;
        let help_h = want.clamp(4, rest.height.saturating_sub(8).max(4));
        let [m, h] = Layout::vertical([Constraint::Min(8), Constraint::Length(help_h)]).areas(rest);
        (m, h)
    };
    Areas {
        header,
        sidebar,
        main,
        help,
        log,
        keys,
    }
}

pub fn draw(app: &App, f: &mut Frame) {
    let t = Theme { color: app.color };
    let area = f.area();
    if area.width < super::app::MIN_SIZE.0 || area.height < super::app::MIN_SIZE.1 {
        return too_small(app, f, t);
    }
    let (_, help_body) = help_text(app);
    // Questions need their help whole; elsewhere the main pane needs the rows more.
    let max_help = if app.phase == Phase::Asking { 20 } else { 3 };
    let a = layout(
        area,
        |w| crate::ui::wizard::text::wrap(&help_body, w as usize).len() as u16,
        max_help,
    );
    header(app, f, a.header, t);
    sidebar(app, f, a.sidebar, t);
    screens::main(app, f, a.main, t);
    help(app, f, a.help, t);
    activity(app, f, a.log, t);
    keys(app, f, a.keys, t);
}

fn too_small(app: &App, f: &mut Frame, t: Theme) {
    let area = f.area();
    let text = vec![
        Line::styled("medplum-init needs at least 80×24.", t.bold()),
        Line::raw(format!("This terminal is {}×{}.", area.width, area.height)),
        Line::raw("Enlarge it, or run with --output plain."),
        Line::raw(""),
        Line::styled(
            if app.phase == Phase::Running {
                "The run goes on meanwhile."
            } else {
                "Nothing is lost meanwhile."
            },
            t.dim(),
        ),
    ];
    let y = area.height.saturating_sub(text.len() as u16) / 2;
    let r = Rect {
        y: area.y + y,
        height: area.height.saturating_sub(y),
        ..area
    };
    f.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), r);
}

fn header(app: &App, f: &mut Frame, area: Rect, t: Theme) {
    let left = " medplum-init · guided install".to_string();
    let mut right = vec![app.env(), app.region()];
    if app.dry_run {
        right.push("dry run".into());
    } else {
        match (&app.known.caller, app.lookup(CALLER)) {
            (Some(c), _) => right.push(format!("account {}", c.account)),
            (None, Some(Lookup::Loading)) => right.push("account …".into()),
            (None, Some(Lookup::Failed(_))) => right.push("no AWS identity".into()),
            _ => {}
        }
    }
    let right = format!("{} ", right.join(" · "));
    let line = row(
        vec![Span::styled(
            left,
            t.header().add_modifier(ratatui::style::Modifier::BOLD),
        )],
        Span::styled(right, t.header()),
        area.width as usize,
    )
    .style(t.header());
    f.render_widget(Paragraph::new(line).style(t.header()), area);
}

/// A sidebar entry's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryState {
    Pending,
    Current,
    Answered,
    Waiting,
    Running,
    Done,
    Skipped,
    Failed,
}

impl EntryState {
    pub fn word(self) -> &'static str {
        match self {
            EntryState::Pending => "pending",
            EntryState::Current => "current",
            EntryState::Answered => "answered",
            EntryState::Waiting => "waiting",
            EntryState::Running => "running",
            EntryState::Done => "done",
            EntryState::Skipped => "skipped",
            EntryState::Failed => "failed",
        }
    }
}

pub fn entry_state(app: &App, s: Section) -> EntryState {
    let current = match app.phase {
        Phase::Asking => app.section == s,
        Phase::Previewing | Phase::Review => s == Section::Review,
        Phase::Finished => s == Section::Deploy,
        Phase::Running | Phase::Failed => false,
    };
    if current {
        return EntryState::Current;
    }
    let steps = s.engine_steps();
    if app.run_started() && !steps.is_empty() {
        let runs: Vec<_> = steps.iter().filter_map(|id| app.steps.get(id)).collect();
        if runs.iter().any(|r| matches!(r, StepRun::Failed { .. })) {
            return EntryState::Failed;
        }
        if runs.iter().any(|r| matches!(r, StepRun::Running { .. })) {
            return EntryState::Running;
        }
        if !runs.is_empty()
            && runs.iter().all(|r| {
                matches!(
                    r,
                    StepRun::Finished {
                        outcome: Outcome::Skipped,
                        ..
                    }
                )
            })
        {
            return EntryState::Skipped;
        }
        if !runs.is_empty() && runs.iter().all(|r| matches!(r, StepRun::Finished { .. })) {
            return EntryState::Done;
        }
        return EntryState::Waiting;
    }
    if s == Section::Review && app.run_started() {
        return EntryState::Done;
    }
    if let Some(r) = &app.resume
        && !steps.is_empty()
    {
        let st: Vec<_> = steps.iter().filter_map(|id| r.statuses.get(id)).collect();
        if !st.is_empty() && st.iter().all(|s| **s == StepStatus::Done) {
            return EntryState::Done;
        }
        if st.iter().any(|s| **s == StepStatus::Failed) {
            return EntryState::Failed;
        }
        if !st.is_empty() && st.iter().all(|s| **s == StepStatus::Skipped) {
            return EntryState::Skipped;
        }
    }
    if app.answered.contains(&s) {
        EntryState::Answered
    } else {
        EntryState::Pending
    }
}

fn sidebar(app: &App, f: &mut Frame, area: Rect, t: Theme) {
    let block = Block::bordered().title(" Steps ").border_style(t.border());
    let inner = block.inner(area);
    f.render_widget(block, area);
    let w = inner.width as usize;
    let mut lines = Vec::new();
    for s in Section::ALL {
        let st = entry_state(app, s);
        let (icon, style) = match st {
            EntryState::Pending => ("·", t.dim()),
            EntryState::Current => ("▸", t.accent()),
            EntryState::Answered => ("✓", t.plain()),
            EntryState::Waiting => ("·", t.plain()),
            EntryState::Running => (spinner(app.now), t.accent()),
            EntryState::Done => ("✓", t.ok()),
            EntryState::Skipped => ("–", t.dim()),
            EntryState::Failed => ("✗", t.err()),
        };
        let title_style = if st == EntryState::Current {
            t.accent()
        } else if st == EntryState::Pending {
            t.dim()
        } else {
            t.plain()
        };
        let word_style = match st {
            EntryState::Done => t.ok(),
            EntryState::Failed => t.err(),
            EntryState::Running | EntryState::Current => t.accent(),
            _ => t.dim(),
        };
        lines.push(row(
            vec![
                Span::styled(format!("{icon} "), style),
                Span::styled(s.title(), title_style),
            ],
            Span::styled(st.word(), word_style),
            w,
        ));
    }
    if let Some(r) = &app.resume
        && inner.height as usize > lines.len() + 2
    {
        lines.push(Line::raw(""));
        lines.push(Line::styled(fit(&format!("resumed {}", r.env), w), t.dim()));
    }
    f.render_widget(Paragraph::new(lines), inner);
}

/// The help pane's title and text for what is on screen.
pub fn help_text(app: &App) -> (String, String) {
    if let Some(field) = app.focused() {
        return (
            format!(" Help: {} ", field.label()),
            field_help(field).into(),
        );
    }
    let text = match app.phase {
        Phase::Asking => section_intro(app.section).to_string(),
        Phase::Previewing | Phase::Review => "+ adds, ~ changes, = stays; secrets show as \
            ****. New certificates are validated through DNS; the config file is written last."
            .into(),
        Phase::Running => "Every effect is journaled as it happens (.medplum-init/<env>/): \
            Ctrl-C loses nothing, and the next run resumes."
            .into(),
        Phase::Failed => "Retry after fixing what the hint says; skip goes on without the \
            step; quit keeps finished work for the next run."
            .into(),
        Phase::Finished => "The deploy creates the network, database, cache, servers and CDN \
            from the config file: about 30 minutes the first time."
            .into(),
    };
    (" Help ".into(), text)
}

fn help(app: &App, f: &mut Frame, area: Rect, t: Theme) {
    let (title, text) = help_text(app);
    let block = Block::bordered().title(title).border_style(t.border());
    f.render_widget(
        Paragraph::new(text).wrap(Wrap { trim: true }).block(block),
        area,
    );
}

fn activity(app: &App, f: &mut Frame, area: Rect, t: Theme) {
    let busy = app.in_flight().count();
    let title = if busy > 0 {
        format!(" AWS activity · {busy} in flight ")
    } else {
        " AWS activity ".to_string()
    };
    let block = Block::default()
        .borders(Borders::TOP | Borders::BOTTOM)
        .title(title)
        .border_style(t.border());
    let inner = block.inner(area);
    f.render_widget(block, area);
    let w = inner.width as usize;
    let n = inner.height as usize;
    let mut lines: Vec<Line> = Vec::new();
    for a in app.activity.iter().rev().take(n) {
        lines.push(match a {
            Activity::Call(c) => {
                let (icon, style, right) = match c.status {
                    CallStatus::Started => (
                        spinner(app.now),
                        t.accent(),
                        elapsed(app.now.saturating_sub(c.started)),
                    ),
                    CallStatus::Ok => (
                        "✓",
                        t.ok(),
                        c.elapsed_ms
                            .map(|m| elapsed(std::time::Duration::from_millis(m)))
                            .unwrap_or_default(),
                    ),
                    CallStatus::Failed => ("✗", t.err(), "failed".into()),
                };
                let mut left = vec![
                    Span::styled(format!("{icon} "), style),
                    Span::styled(format!("{}:{}", c.service, c.operation), t.bold()),
                    Span::styled(format!(" {} ", c.region), t.dim()),
                    Span::raw(c.resource.clone()),
                ];
                if let Some(e) = &c.error {
                    left.push(Span::styled(format!(": {e}"), t.err()));
                }
                row(left, Span::styled(right, t.dim()), w)
            }
            Activity::Note { level, text, hint } => {
                let (icon, style) = match level {
                    Level::Info => ("·", t.plain()),
                    Level::Warn => ("!", t.warn()),
                    Level::Error => ("✗", t.err()),
                };
                let mut s = text.clone();
                if let Some(h) = hint {
                    s.push_str(&format!(" (hint: {h})"));
                }
                Line::from(vec![
                    Span::styled(format!("{icon} "), style),
                    Span::styled(fit(&s, w.saturating_sub(2)), style),
                ])
            }
        });
    }
    if lines.is_empty() {
        let idle = if app.dry_run {
            "dry run: no AWS calls"
        } else {
            "no AWS calls yet"
        };
        lines.push(Line::styled(idle, t.dim()));
    }
    lines.reverse();
    f.render_widget(Paragraph::new(lines), inner);
}

/// The key hints for what is on screen.
pub fn key_hints(app: &App) -> Vec<(&'static str, &'static str)> {
    use crate::ui::wizard::Kind;
    match app.phase {
        Phase::Asking => {
            let mut k = vec![("Enter", "next"), ("Tab", "field")];
            match app.focused().map(|f| f.kind()) {
                Some(Kind::Choice) => k.push(("↑↓", "choose")),
                Some(Kind::Toggle) => k.push(("Space", "toggle")),
                _ => k.push(("↑↓", "field")),
            }
            k.extend([("PgDn", "next step"), ("Esc", "back"), ("^C", "quit")]);
            k
        }
        Phase::Previewing => vec![("Esc", "back"), ("^C", "quit")],
        Phase::Review => {
            let mut k = Vec::new();
            if app.preview.is_some() || app.dry_run {
                k.push(("Enter", "apply"));
            }
            if app.preview_error.is_some() {
                k.push(("r", "read again"));
            }
            k.extend([
                ("↑↓ PgUp/PgDn", "scroll"),
                ("Esc", "change answers"),
                ("^C", "quit"),
            ]);
            k
        }
        Phase::Running => {
            if app.cancelling {
                vec![("^C", "quit at once")]
            } else {
                vec![("↑↓", "scroll"), ("^C", "stop safely")]
            }
        }
        Phase::Failed => vec![
            ("r", "retry"),
            ("s", "skip step"),
            ("q", "quit"),
            ("↑↓", "scroll"),
        ],
        Phase::Finished if app.dry_run => vec![("Enter", "exit")],
        Phase::Finished => vec![("↑↓", "choose"), ("Enter", "confirm"), ("q", "later")],
    }
}

fn keys(app: &App, f: &mut Frame, area: Rect, t: Theme) {
    let mut spans = vec![Span::raw(" ")];
    let mut used = 1;
    for (k, what) in key_hints(app) {
        let w = k.chars().count() + what.chars().count() + 3;
        if used + w > area.width as usize {
            break;
        }
        used += w;
        spans.push(Span::styled(k, t.accent()));
        spans.push(Span::styled(format!(" {what}  "), t.dim()));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The status column of a step row in the progress view.
pub fn step_word(run: &StepRun, now: std::time::Duration) -> (String, String) {
    match run {
        StepRun::Pending => ("waiting".into(), String::new()),
        StepRun::Running { since } => ("running".into(), elapsed(now.saturating_sub(*since))),
        StepRun::Finished {
            outcome,
            summary,
            took,
            ..
        } => {
            let word = match outcome {
                Outcome::Skipped => "skipped".to_string(),
                _ => summary.clone(),
            };
            (
                word,
                if took.is_zero() {
                    String::new()
                } else {
                    elapsed(*took)
                },
            )
        }
        StepRun::Failed { .. } => ("failed".into(), String::new()),
    }
}

pub fn pad_label(s: &str, w: usize) -> String {
    pad(s, w)
}
