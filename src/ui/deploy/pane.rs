//! The deploy progress pane (ratatui): a header with the stack, its status, a `[done/total]`
//! counter and a gauge; the resources, grouped by what they are, each row with its status and
//! elapsed time and, under a failed row, the reason; a scrolling event log; and a footer with
//! the Ctrl-C contract. Rollback is drawn in magenta, failures in red.
//!
//! `draw` is read-only: everything comes from the [`DeployState`], so the same state always
//! draws the same screen (snapshot-tested at 80x24 and 120x40).
//!
//! When every row fits, the resources pane lists them all by group. When not (a first install
//! has ~150), a column of per-group counters sits on the left and the right side lists what
//! matters now: failures with their reasons, then what is in progress (longest first), then what
//! finished last.

use std::sync::OnceLock;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, LineGauge, Paragraph};

use crate::deploy::changeset::ChangeAction;
use crate::deploy::clock::elapsed;
use crate::deploy::progress::{
    DeployState, Group, Row, RowState, StackProgress, short_status, status_words,
};

/// Colours, or none (NO_COLOR).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Palette {
    pub color: bool,
}

impl Palette {
    fn detect() -> Self {
        static P: OnceLock<Palette> = OnceLock::new();
        *P.get_or_init(|| Palette {
            color: crate::printer::style::wants_color(true),
        })
    }
    fn fg(self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }
    fn ok(self) -> Style {
        self.fg(Color::Green)
    }
    fn bad(self) -> Style {
        self.fg(Color::Red)
    }
    fn busy(self) -> Style {
        self.fg(Color::Cyan)
    }
    fn rollback(self) -> Style {
        self.fg(Color::Magenta)
    }
    fn dim(self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new()
        }
    }
    fn bold(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }
}

const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// Draws the whole deploy screen into `area`.
pub fn draw(state: &DeployState, frame: &mut Frame, area: Rect) {
    draw_with(state, frame, area, Palette::detect());
}

pub fn draw_with(state: &DeployState, frame: &mut Frame, area: Rect, p: Palette) {
    let log_h = ((area.height.saturating_sub(3)) / 3).clamp(4, 14);
    let app_h = if state.app.is_some() {
        app_pane::HEIGHT
    } else {
        0
    };
    let [header, gauge, resources, app, log, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(4),
        Constraint::Length(app_h),
        Constraint::Length(log_h),
        Constraint::Length(1),
    ])
    .areas(area);
    let Some(stack) = state.current_stack() else {
        frame.render_widget(
            Paragraph::new("Waiting for CloudFormation…").style(p.dim()),
            area,
        );
        return;
    };
    draw_header(state, stack, frame, header, gauge, p);
    draw_resources(state, stack, frame, resources, p);
    if let Some(a) = &state.app {
        app_pane::draw(a, state.now_ms, frame, app, p);
    }
    draw_log(state, frame, log, p);
    frame.render_widget(Paragraph::new(footer_line(state, stack, p)), footer);
}

fn stack_phase(state: &DeployState, s: &StackProgress, p: Palette) -> Span<'static> {
    let status = s.status.clone().unwrap_or_else(|| "STARTING".into());
    let words = status_words(&status);
    // Not this deploy's operation: it is followed until it settles, then planned from there.
    let words = if s.attached && s.ok.is_none() {
        format!("attached: {words} (already running)")
    } else {
        words
    };
    match s.ok {
        Some(true) => Span::styled(format!("✓ {words}"), p.ok().add_modifier(Modifier::BOLD)),
        Some(false) => Span::styled(format!("✗ {words}"), p.bad().add_modifier(Modifier::BOLD)),
        None if s.rolling_back => Span::styled(
            format!("↺ {words}"),
            p.rollback().add_modifier(Modifier::BOLD),
        ),
        None => {
            let spin = SPINNER[((state.now_ms / 100) % 10) as usize];
            Span::styled(format!("{spin} {words}"), p.busy())
        }
    }
}

fn draw_header(
    state: &DeployState,
    s: &StackProgress,
    frame: &mut Frame,
    header: Rect,
    gauge: Rect,
    p: Palette,
) {
    let (done, total) = s.counter();
    let took = s
        .started_ms
        .map(|t| elapsed(t, s.finished_ms.unwrap_or(state.now_ms)))
        .unwrap_or_default();
    let position = if state.stacks.len() > 1 {
        format!(" (stack {}/{})", state.current + 1, state.stacks.len())
    } else {
        String::new()
    };
    let counter_style = if s.rolling_back {
        p.rollback()
    } else {
        p.bold()
    };
    let line = Line::from(vec![
        Span::styled(s.name.clone(), p.bold()),
        Span::styled(format!(" {}{position}  ", s.region), p.dim()),
        stack_phase(state, s, p),
        Span::raw("  "),
        Span::styled(format!("[{done}/{total}]"), counter_style),
        Span::styled(format!("  {took}"), p.dim()),
    ]);
    frame.render_widget(Paragraph::new(line), header);
    let ratio = if total == 0 {
        0.0
    } else {
        done as f64 / total as f64
    };
    let filled = if s.ok == Some(false) {
        p.bad()
    } else if s.rolling_back {
        p.rollback()
    } else {
        p.ok()
    };
    frame.render_widget(
        LineGauge::default()
            .ratio(ratio.clamp(0.0, 1.0))
            .filled_style(filled)
            .unfilled_style(p.dim())
            .label(""),
        gauge,
    );
}

fn icon(state: &DeployState, r: &Row, p: Palette) -> Span<'static> {
    match r.state {
        RowState::Pending => Span::styled("·", p.dim()),
        RowState::InProgress if r.rollback => Span::styled("↺", p.rollback()),
        RowState::InProgress => {
            Span::styled(SPINNER[((state.now_ms / 100) % 10) as usize], p.busy())
        }
        RowState::Done if r.rollback => Span::styled("↺", p.rollback()),
        RowState::Done => Span::styled("✓", p.ok()),
        RowState::Failed => Span::styled("✗", p.bad()),
        RowState::Cancelled => Span::styled("–", p.dim()),
    }
}

fn fit(text: &str, width: usize) -> String {
    let n = text.chars().count();
    if n <= width {
        format!("{text:<width$}")
    } else if width > 1 {
        let mut s: String = text.chars().take(width - 1).collect();
        s.push('…');
        s
    } else {
        text.chars().take(width).collect()
    }
}

/// One resource row, and its failure reason below it (wrapped) when it failed.
fn row_lines(state: &DeployState, r: &Row, width: usize, p: Palette) -> Vec<Line<'static>> {
    let status_w = 15;
    let time_w = 7;
    let show_type = width >= 100;
    let type_w = if show_type { 34 } else { 0 };
    let id_w = width
        .saturating_sub(4 + status_w + time_w + type_w + 1)
        .max(8);
    let status = if r.status.is_empty() {
        match r.action {
            Some(ChangeAction::Add) => "to create".to_string(),
            Some(ChangeAction::Remove) => "to delete".to_string(),
            Some(a) if r.replaces => format!("to replace ({a:?})").to_lowercase(),
            Some(_) => "to update".to_string(),
            None => "waiting".to_string(),
        }
    } else if r.state == RowState::Failed {
        short_status(r.failed_status.as_deref().unwrap_or(&r.status))
    } else {
        short_status(&r.status)
    };
    let status_style = match r.state {
        RowState::Failed => p.bad(),
        RowState::Cancelled | RowState::Pending => p.dim(),
        _ if r.rollback => p.rollback(),
        RowState::InProgress => p.busy(),
        RowState::Done => p.ok(),
    };
    let took = match (r.started_ms, r.finished_ms) {
        _ if r.state == RowState::Failed => r
            .failed_after_ms
            .map(|ms| elapsed(0, ms))
            .unwrap_or_default(),
        (Some(a), Some(b)) => elapsed(a, b),
        (Some(a), None) => elapsed(a, state.now_ms),
        _ => String::new(),
    };
    let mut spans = vec![Span::raw("  "), icon(state, r, p), Span::raw(" ")];
    spans.push(Span::raw(fit(&r.logical_id, id_w)));
    if show_type {
        spans.push(Span::styled(
            fit(&format!(" {}", r.resource_type), type_w),
            p.dim(),
        ));
    }
    spans.push(Span::styled(
        fit(&format!(" {status}"), status_w),
        status_style,
    ));
    spans.push(Span::styled(format!("{took:>time_w$}"), p.dim()));
    let mut out = vec![Line::from(spans)];
    if r.state == RowState::Failed
        && let Some(reason) = &r.reason
    {
        for chunk in wrap(&concise(reason), reason_width(width)) {
            out.push(Line::from(vec![
                Span::raw("      "),
                Span::styled(chunk, p.bad()),
            ]));
        }
    }
    for chunk in diagnosis_lines(r, width) {
        out.push(Line::from(vec![
            Span::raw("      "),
            Span::styled(chunk, p.fg(Color::Yellow)),
        ]));
    }
    out
}

/// What ECS said about a service that does not stabilise, wrapped (at most 4 lines: the panes
/// are small; the plain log has it all).
fn diagnosis_lines(r: &Row, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = r
        .diagnosis
        .iter()
        .flat_map(|d| wrap(d, reason_width(width)))
        .collect();
    lines.truncate(4);
    lines
}

/// Lines [`row_lines`] takes for a row: one, plus its wrapped reason when it failed.
fn row_height(r: &Row, width: usize) -> usize {
    let diagnosis = diagnosis_lines(r, width).len();
    match (&r.reason, r.state) {
        (Some(reason), RowState::Failed) => {
            1 + wrap(&concise(reason), reason_width(width)).len() + diagnosis
        }
        _ => 1 + diagnosis,
    }
}

fn reason_width(width: usize) -> usize {
    width.saturating_sub(8).max(10)
}

/// A failure reason without the parts only support needs: the resource-handler wrapper, the
/// request token and the request id (the recap at the end keeps the full text).
fn concise(reason: &str) -> String {
    let mut r = reason.trim();
    if let Some(rest) = r.strip_prefix("Resource handler returned message: ") {
        r = rest;
    }
    if let Some(i) = r.find(" (RequestToken:") {
        r = &r[..i];
    }
    let r = r.trim_matches('"');
    match (r.find(", Request ID: "), r.rfind(')')) {
        (Some(a), Some(b)) if a < b => format!("{}{}", &r[..a], &r[b..]),
        _ => r.to_string(),
    }
}

/// Word wrap without a dependency: CloudFormation reasons are long single lines.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for word in text.split_whitespace() {
        if !cur.is_empty() && cur.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

fn group_line(s: &StackProgress, g: Group, width: usize, p: Palette) -> Option<Line<'static>> {
    let rows: Vec<&Row> = s.group_rows(g).collect();
    if rows.is_empty() {
        return None;
    }
    let done = rows.iter().filter(|r| r.state.terminal()).count();
    let failed = rows.iter().any(|r| r.state == RowState::Failed);
    let busy = rows.iter().any(|r| r.state == RowState::InProgress);
    let rolled = rows.iter().any(|r| r.rollback);
    let (mark, style) = if failed {
        ("✗", p.bad())
    } else if rolled {
        ("↺", p.rollback())
    } else if busy {
        ("▸", p.busy())
    } else if done == rows.len() {
        ("✓", p.ok())
    } else {
        ("·", p.dim())
    };
    let count = format!("{:>7}", format!("{done}/{}", rows.len()));
    let title_w = width.saturating_sub(count.len() + 3).min(17);
    Some(Line::from(vec![
        Span::styled(format!("{mark} "), style),
        Span::styled(fit(g.title(), title_w), p.bold()),
        Span::raw(" "),
        Span::styled(count, style),
    ]))
}

fn draw_resources(
    state: &DeployState,
    s: &StackProgress,
    frame: &mut Frame,
    area: Rect,
    p: Palette,
) {
    let block = Block::bordered()
        .title(" Resources ")
        .border_style(if s.rolling_back {
            p.rollback()
        } else {
            p.dim()
        });
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let height = inner.height as usize;

    // Everything, by group, when it fits (counted first: most frames of a big deploy do not).
    let width = inner.width as usize;
    let groups = Group::ALL
        .iter()
        .filter(|g| s.group_rows(**g).next().is_some())
        .count();
    let needed = groups + s.rows.iter().map(|r| row_height(r, width)).sum::<usize>();
    if needed <= height {
        let mut full: Vec<Line> = Vec::with_capacity(needed);
        for g in Group::ALL {
            if let Some(header) = group_line(s, g, width, p) {
                full.push(header);
                for r in s.group_rows(g) {
                    full.extend(row_lines(state, r, width, p));
                }
            }
        }
        frame.render_widget(Paragraph::new(full), inner);
        return;
    }

    // Too many: group counters on the left, what matters now on the right.
    let left_w = if inner.width >= 60 { 29 } else { 0 };
    let [left, right] =
        Layout::horizontal([Constraint::Length(left_w), Constraint::Min(10)]).areas(inner);
    if left_w > 0 {
        let groups: Vec<Line> = Group::ALL
            .iter()
            .filter_map(|g| group_line(s, *g, left_w as usize - 1, p))
            .collect();
        frame.render_widget(Paragraph::new(groups), left);
    }
    let w = right.width as usize;
    let mut lines: Vec<Line> = Vec::new();
    let failed = s.rows.iter().filter(|r| r.state == RowState::Failed);
    for r in failed {
        lines.extend(row_lines(state, r, w, p));
    }
    let mut busy: Vec<&Row> = s
        .rows
        .iter()
        .filter(|r| r.state == RowState::InProgress)
        .collect();
    busy.sort_by_key(|r| r.started_ms.unwrap_or(i64::MAX));
    let pending = s
        .rows
        .iter()
        .filter(|r| r.state == RowState::Pending)
        .count();
    let mut finished: Vec<&Row> = s
        .rows
        .iter()
        .filter(|r| matches!(r.state, RowState::Done | RowState::Cancelled))
        .collect();
    finished.sort_by_key(|r| std::cmp::Reverse(r.finished_ms.unwrap_or(0)));
    let reserve = usize::from(pending > 0);
    let room = height.saturating_sub(lines.len() + reserve);
    let shown_busy = busy.len().min(room);
    for r in &busy[..shown_busy] {
        lines.extend(row_lines(state, r, w, p));
    }
    let hidden = busy.len() - shown_busy;
    let mut tail = Vec::new();
    if hidden > 0 {
        tail.push(format!("… {hidden} more in progress"));
    }
    if pending > 0 {
        tail.push(format!("{pending} waiting"));
    }
    if !tail.is_empty() {
        lines.push(Line::styled(format!("  {}", tail.join(", ")), p.dim()));
    }
    for r in finished {
        if lines.len() >= height {
            break;
        }
        lines.extend(row_lines(state, r, w, p));
    }
    lines.truncate(height);
    frame.render_widget(Paragraph::new(lines), right);
}

fn draw_log(state: &DeployState, frame: &mut Frame, area: Rect, p: Palette) {
    let block = Block::bordered().title(" Events ").border_style(p.dim());
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let start = state.started_ms.unwrap_or(state.now_ms);
    let n = inner.height as usize;
    let lines: Vec<Line> = state
        .log
        .iter()
        .skip(state.log.len().saturating_sub(n))
        .map(|l| {
            let style = if l.status.ends_with("_FAILED") {
                p.bad()
            } else if l.rollback || l.status.contains("ROLLBACK") {
                p.rollback()
            } else if l.status.ends_with("_COMPLETE") {
                p.ok()
            } else {
                Style::new()
            };
            let secs = (l.at_ms - start).max(0) / 1000;
            let mut spans = vec![
                Span::styled(format!("{:>2}:{:02} ", secs / 60, secs % 60), p.dim()),
                Span::raw(format!("{} ", fit(&l.logical_id, 44).trim_end())),
                Span::styled(l.status.clone(), style),
            ];
            if let Some(r) = &l.reason {
                spans.push(Span::styled(format!("  {r}"), p.dim()));
            }
            Line::from(spans)
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

fn footer_line(state: &DeployState, s: &StackProgress, p: Palette) -> Line<'static> {
    // The stacks are done; the web app's publish is the last stage.
    if let Some(a) = &state.app {
        use crate::deploy::app_progress::AppPhase;
        return match a.phase {
            AppPhase::Done => Line::styled("Deploy complete; the web app is published.", p.ok()),
            AppPhase::Failed => Line::styled(
                "The stacks are deployed; the web app was not published (see the error on exit).",
                p.bad(),
            ),
            _ => Line::styled(
                "Ctrl-C: stop the publish (the stacks stay deployed; `medplum-init app` finishes it)",
                p.dim(),
            ),
        };
    }
    if let Some(ok) = state.ok {
        return if ok {
            Line::styled("Deploy complete.", p.ok())
        } else {
            Line::styled(
                "Deploy failed: the reasons are kept above and recapped on exit.",
                p.bad(),
            )
        };
    }
    if s.deleting {
        let words = match &state.warning {
            Some(_) => "Ctrl-C: no longer following the delete; CloudFormation goes on deleting",
            None => "Ctrl-C: stop following (CloudFormation goes on deleting on its own)",
        };
        return Line::styled(words, p.dim());
    }
    if let Some(c) = &s.cancel {
        return Line::from(vec![
            Span::styled(c.clone(), p.rollback()),
            Span::styled(
                "  Ctrl-C again: quit (CloudFormation continues on its own)",
                p.dim(),
            ),
        ]);
    }
    if let Some(w) = &state.warning {
        return Line::styled(w.clone(), p.fg(Color::Yellow));
    }
    let action = match s.kind {
        Some(crate::deploy::changeset::ChangeSetKind::Create) => "delete the new stack",
        _ => "cancel the update (rolls back)",
    };
    Line::styled(format!("Ctrl-C: {action}"), p.dim())
}

#[path = "app_pane.rs"]
mod app_pane;

#[cfg(test)]
#[path = "pane_tests.rs"]
mod tests;
