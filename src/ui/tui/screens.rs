//! The main pane's screens: the questions of a section (with inline checks as you type), the
//! wait while the review is read, the progress of the run with its failure box, and the end.
//! The review itself is in [`super::review`].

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::app::{App, Lookup, Phase, StepRun, ZONES, certs_key};
use super::draw::step_word;
use super::review;
use super::widgets::spinner;
use crate::config::derive;
use crate::engine::{Outcome, ParameterAction, StepId};
use crate::ui::wizard::help::section_intro;
use crate::ui::wizard::text::{Theme, fit, pad, row, wrap};
use crate::ui::wizard::{FieldId, Kind, Section};

pub fn main(app: &App, f: &mut Frame, area: Rect, t: Theme) {
    match app.phase {
        Phase::Asking => form(app, f, area, t),
        Phase::Previewing => previewing(app, f, area, t),
        Phase::Review => review::review(app, f, area, t),
        Phase::Running | Phase::Failed => progress(app, f, area, t),
        Phase::Finished => super::done::finished(app, f, area, t),
    }
}

/// Renders `lines` in a bordered block, scrolled by `scroll` (clamped so the end stays in view).
pub fn scrolled(f: &mut Frame, area: Rect, title: String, lines: Vec<Line>, scroll: u16, t: Theme) {
    let block = Block::bordered()
        .title(title)
        .border_style(t.focus_border());
    let inner = block.inner(area);
    f.render_widget(block, area);
    let max = (lines.len() as u16).saturating_sub(inner.height);
    f.render_widget(Paragraph::new(lines).scroll((scroll.min(max), 0)), inner);
}

fn form(app: &App, f: &mut Frame, area: Rect, t: Theme) {
    let n = Section::QUESTIONS.len();
    let title = format!(" {}/{n} {} ", app.section.index() + 1, app.section.title());
    let block = Block::bordered()
        .title(title)
        .border_style(t.focus_border());
    let inner = block.inner(area);
    f.render_widget(block, area);
    let w = inner.width as usize;
    let label_w = 22.min(w / 2);
    let mut lines: Vec<Line> = Vec::new();
    let mut cursor = None;
    let mut focus_range = (0, 0);
    for (i, field) in app.fields().into_iter().enumerate() {
        let start = lines.len();
        field_lines(
            app,
            field,
            i == app.focus,
            w,
            label_w,
            t,
            &mut lines,
            &mut cursor,
        );
        if i == app.focus {
            focus_range = (start, lines.len());
        }
    }
    if app.section == Section::Parameters {
        derived_parameters(app, w, t, &mut lines);
    }
    let h = inner.height as usize;
    // The section's introduction when there is room for it; the help pane explains anyway.
    let intro: Vec<Line> = wrap(section_intro(app.section), w)
        .into_iter()
        .map(|l| Line::styled(l, t.dim()))
        .chain([Line::raw("")])
        .collect();
    if lines.len() + intro.len() <= h {
        let n = intro.len();
        lines.splice(0..0, intro);
        focus_range = (focus_range.0 + n, focus_range.1 + n);
        cursor = cursor.map(|(l, c)| (l + n, c));
    }
    let mut offset = focus_range.1.saturating_sub(h);
    if focus_range.0 < offset {
        offset = focus_range.0;
    }
    f.render_widget(Paragraph::new(lines).scroll((offset as u16, 0)), inner);
    if let Some((line, col)) = cursor
        && line >= offset
        && line - offset < h
        && col < w
    {
        f.set_cursor_position((inner.x + col as u16, inner.y + (line - offset) as u16));
    }
}

#[allow(clippy::too_many_arguments)]
fn field_lines<'a>(
    app: &'a App,
    field: FieldId,
    focused: bool,
    w: usize,
    label_w: usize,
    t: Theme,
    lines: &mut Vec<Line<'a>>,
    cursor: &mut Option<(usize, usize)>,
) {
    let marker = if focused { "›" } else { " " };
    let label_style = if focused { t.accent() } else { t.plain() };
    let label = || {
        Span::styled(
            format!("{marker} {}", pad(field.label(), label_w.saturating_sub(2))),
            label_style,
        )
    };
    let blank = || Span::raw(" ".repeat(label_w));
    let val_w = w.saturating_sub(label_w);
    let value = app.value(field);
    match field.kind() {
        Kind::Text => {
            if value.is_empty() && !focused {
                lines.push(Line::from(vec![
                    label(),
                    Span::styled(placeholder(field), t.dim()),
                ]));
            } else {
                let chars: Vec<char> = value.chars().collect();
                let cur = app.cursor.min(chars.len());
                let start = if focused {
                    (cur + 1).saturating_sub(val_w.max(1))
                } else {
                    0
                };
                let mut shown: String = chars.iter().skip(start).take(val_w).collect();
                if start > 0 {
                    // Say that the text goes on to the left.
                    shown.replace_range(..shown.chars().next().map_or(0, char::len_utf8), "…");
                }
                let style = if focused { t.input() } else { t.plain() };
                let shown = if focused || chars.len() <= val_w {
                    shown
                } else {
                    fit(&value, val_w)
                };
                lines.push(Line::from(vec![label(), Span::styled(shown, style)]));
                if focused {
                    *cursor = Some((lines.len() - 1, label_w + cur - start));
                }
            }
        }
        Kind::Toggle => {
            let on = value == "true";
            let pick = |yes: bool, text: &'static str| {
                let chosen = on == yes;
                let style = if chosen && focused {
                    t.selected()
                } else if chosen {
                    t.bold()
                } else {
                    t.dim()
                };
                Span::styled(format!("{} {text}", if chosen { "●" } else { "○" }), style)
            };
            lines.push(Line::from(vec![
                label(),
                pick(true, "Yes"),
                Span::raw("   "),
                pick(false, "No"),
            ]));
        }
        Kind::Choice => {
            let opts = field.options(&app.draft, &app.known);
            let sel = opts.iter().position(|o| o.value == value);
            if !focused {
                let (text, hint) = match sel {
                    Some(i) => (opts[i].label.clone(), opts[i].hint.clone()),
                    None => (value.clone(), String::new()),
                };
                // The hint only when it fits whole: a cut hint reads worse than none.
                let room = val_w.saturating_sub(text.chars().count() + 2);
                let hint = if hint.chars().count() <= room {
                    hint
                } else {
                    String::new()
                };
                lines.push(Line::from(vec![
                    label(),
                    Span::raw(fit(&text, val_w)),
                    Span::styled(format!("  {hint}"), t.dim()),
                ]));
            } else {
                const WINDOW: usize = 6;
                // Narrow panes list the choices under the label, at full width, so their hints
                // (costs, sizes) stay readable.
                let stacked = val_w < 44;
                let (val_w, blank): (usize, Box<dyn Fn() -> Span<'a>>) = if stacked {
                    lines.push(Line::from(vec![label()]));
                    (w.saturating_sub(4), Box::new(|| Span::raw("    ")))
                } else {
                    (val_w, Box::new(blank))
                };
                let sel_i = sel.unwrap_or(0);
                let first = sel_i
                    .saturating_sub(2)
                    .min(opts.len().saturating_sub(WINDOW));
                let opt_w = opts
                    .iter()
                    .map(|o| o.label.chars().count())
                    .max()
                    .unwrap_or(0)
                    .min(val_w.saturating_sub(4));
                for (j, o) in opts.iter().enumerate().skip(first).take(WINDOW) {
                    let chosen = Some(j) == sel;
                    let lead = if j == first && !stacked {
                        label()
                    } else {
                        blank()
                    };
                    let text = format!(
                        "{} {}",
                        if chosen { "▸" } else { " " },
                        pad(&o.label, opt_w)
                    );
                    let style = if chosen { t.selected() } else { t.plain() };
                    lines.push(Line::from(vec![
                        lead,
                        Span::styled(text, style),
                        Span::styled(
                            fit(&format!("  {}", o.hint), val_w.saturating_sub(opt_w + 2)),
                            t.dim(),
                        ),
                    ]));
                }
                if opts.len() > WINDOW {
                    lines.push(Line::from(vec![
                        blank(),
                        Span::styled(
                            format!("  {} of {}; type a letter to jump", sel_i + 1, opts.len()),
                            t.dim(),
                        ),
                    ]));
                }
            }
        }
    }
    if let Some(note) = lookup_note(app, field) {
        lines.push(Line::from(vec![blank(), Span::styled(note, t.dim())]));
    }
    if let Some((problem, fix)) = app.field_error(field) {
        for (i, l) in wrap(&format!("{problem}: {fix}"), val_w.saturating_sub(2))
            .into_iter()
            .enumerate()
        {
            let icon = if i == 0 { "✗ " } else { "  " };
            lines.push(Line::from(vec![
                blank(),
                Span::styled(format!("{icon}{l}"), t.err()),
            ]));
        }
    }
}

fn placeholder(field: FieldId) -> &'static str {
    match field {
        FieldId::SigningKeyId => "e.g. K2JCJMDEHXQW5F",
        FieldId::ClientId => "optional (ClientApplication id)",
        FieldId::GoogleClientId => "optional: Google OAuth client",
        FieldId::VpcId => "optional: vpc-… (empty: the stack creates a VPC)",
        FieldId::AlarmTopic => "optional: a name or ARN (empty: a generated name)",
        FieldId::DomainName => "required, e.g. example.com",
        FieldId::SupportEmail => "required, e.g. support@example.com",
        _ => "required",
    }
}

/// What the look-up behind a field is doing, when it is not done.
fn lookup_note(app: &App, field: FieldId) -> Option<String> {
    let (key, what) = match field {
        FieldId::Zone => (ZONES.to_string(), "hosted zones".to_string()),
        FieldId::CertApi | FieldId::CertApp | FieldId::CertStorage => {
            let (_, region) = field.certificate_target(&app.draft, &app.known);
            (certs_key(&region), "certificates".to_string())
        }
        _ => return None,
    };
    match app.lookup(&key)? {
        Lookup::Loading => Some(format!("{} looking up {what}…", spinner(app.now))),
        Lookup::Failed(_) => Some(format!("could not list {what}; see AWS activity")),
        Lookup::Done => None,
    }
}

fn derived_parameters<'a>(app: &App, w: usize, t: Theme, lines: &mut Vec<Line<'a>>) {
    let api = app.value(FieldId::ApiDomain);
    let app_d = app.value(FieldId::AppDomain);
    let storage = app.value(FieldId::StorageDomain);
    let bucket = app.value(FieldId::StorageBucket);
    let env = app.env();
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        fit(&format!("Also written under /medplum/{env}/:"), w),
        t.bold(),
    ));
    let rows = [
        ("port", "8103".to_string()),
        ("baseUrl", derive::https_base(&api)),
        ("appBaseUrl", derive::https_base(&app_d)),
        ("storageBaseUrl", derive::storage_base_url(&storage)),
        ("binaryStorage", derive::binary_storage(&bucket)),
        ("supportEmail", app.value(FieldId::SupportEmail)),
        ("signingKeyId", "from the signing key step".into()),
        ("signingKey", "**** (encrypted private key)".into()),
    ];
    for (k, v) in rows {
        lines.push(Line::from(vec![
            Span::styled(format!("  {}", pad(k, 16)), t.dim()),
            Span::raw(fit(&v, w.saturating_sub(18))),
        ]));
    }
}

fn previewing(app: &App, f: &mut Frame, area: Rect, t: Theme) {
    let w = area.width.saturating_sub(2) as usize;
    let mut lines = vec![
        Line::from(vec![
            Span::styled(format!("{} ", spinner(app.now)), t.accent()),
            Span::styled("Reading AWS to prepare the review…", t.bold()),
        ]),
        Line::raw(""),
    ];
    for l in wrap(
        "Nothing is written until you confirm. Esc goes back to the answers.",
        w,
    ) {
        lines.push(Line::styled(l, t.dim()));
    }
    lines.push(Line::raw(""));
    for c in app.in_flight() {
        lines.push(Line::raw(fit(
            &format!("  {}:{} {}", c.service, c.operation, c.resource),
            w,
        )));
    }
    scrolled(f, area, " Review ".into(), lines, 0, t);
}

/// One row per engine step that started: icon, title, status and time; steps still waiting
/// share one line, so the certificates below stay on screen at 80×24.
pub fn step_rows<'a>(app: &App, w: usize, t: Theme) -> Vec<Line<'a>> {
    let mut out = Vec::new();
    let mut waiting = Vec::new();
    for id in StepId::ALL {
        let Some(run) = app.steps.get(&id) else {
            continue;
        };
        // The guided install never asks for a bot layer: its row would only ever say skipped.
        if id == StepId::BotLayer
            && matches!(
                run,
                StepRun::Pending
                    | StepRun::Finished {
                        outcome: Outcome::Skipped,
                        ..
                    }
            )
        {
            continue;
        }
        let (icon, style) = match run {
            StepRun::Pending => {
                waiting.push(id.title());
                continue;
            }
            StepRun::Running { .. } => (spinner(app.now), t.accent()),
            StepRun::Finished {
                outcome: Outcome::Skipped,
                ..
            } => ("–", t.dim()),
            StepRun::Finished { .. } => ("✓", t.ok()),
            StepRun::Failed { .. } => ("✗", t.err()),
        };
        let (word, time) = step_word(run, app.now);
        out.push(row(
            vec![
                Span::styled(format!(" {icon} "), style),
                Span::styled(pad(id.title(), 18), t.bold()),
                Span::styled(word, style),
            ],
            Span::styled(time, t.dim()),
            w,
        ));
    }
    if !waiting.is_empty() {
        for (i, l) in wrap(
            &format!("waiting: {}", waiting.join(", ")),
            w.saturating_sub(3),
        )
        .into_iter()
        .enumerate()
        {
            let lead = if i == 0 { " · " } else { "   " };
            out.push(Line::styled(format!("{lead}{l}"), t.dim()));
        }
    }
    out
}

fn progress(app: &App, f: &mut Frame, area: Rect, t: Theme) {
    let w = area.width.saturating_sub(2) as usize;
    // After a failure, what failed and what can be done come first.
    let failure = failure_lines(app, w, t);
    let mut lines = Vec::new();
    let title = if failure.is_empty() {
        let (head, style) = if app.cancelling {
            ("Stopping at the next safe point…", t.warn())
        } else {
            ("Applying, stage by stage. Ctrl-C stops safely.", t.bold())
        };
        lines.extend(wrap(head, w).into_iter().map(|l| Line::styled(l, style)));
        " Applying ".to_string()
    } else {
        lines.extend(failure);
        " Failed ".to_string()
    };
    // Certificates first: their status is what a long wait is about, and the sidebar already
    // shows every step's state.
    cert_lines(app, w, t, &mut lines);
    lines.push(Line::raw(""));
    lines.extend(step_rows(app, w, t));
    if !app.changes.is_empty() {
        let n = |a| app.changes.iter().filter(|c| c.action == a).count();
        lines.push(Line::raw(""));
        lines.push(Line::raw(format!(
            "Parameter Store: {} to add, {} to change, {} unchanged",
            n(ParameterAction::Add),
            n(ParameterAction::Change),
            n(ParameterAction::Unchanged)
        )));
    }
    scrolled(f, area, title, lines, app.scroll, t);
}

fn cert_lines<'a>(app: &App, w: usize, t: Theme, lines: &mut Vec<Line<'a>>) {
    if app.certs.is_empty() {
        return;
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled("Certificates", t.bold()));
    let waiting = matches!(
        app.steps.get(&StepId::Certificates),
        Some(StepRun::Running { .. })
    );
    for c in &app.certs {
        let (icon, style) = match c.status.as_str() {
            "ISSUED" => ("✓", t.ok()),
            "PENDING_VALIDATION" if waiting => (spinner(app.now), t.warn()),
            "PENDING_VALIDATION" => ("…", t.warn()),
            _ => ("✗", t.err()),
        };
        lines.push(row(
            vec![
                Span::styled(format!(" {icon} "), style),
                Span::raw(format!("{} ", pad(&c.purpose, 8))),
                Span::raw(c.domain.clone()),
            ],
            Span::styled(c.status.to_lowercase().replace('_', " "), style),
            w,
        ));
        if c.status == "PENDING_VALIDATION" {
            for r in &c.records {
                // Records medplum-init wrote need no reading; the others the user must copy.
                let text = if r.written {
                    format!("validation {} written to Route53", r.kind)
                } else {
                    format!("add {} {} → {}", r.kind, r.name, r.value)
                };
                let style = if r.written { t.dim() } else { t.warn() };
                for l in wrap(&text, w.saturating_sub(5)) {
                    lines.push(Line::styled(format!("     {l}"), style));
                }
            }
        }
    }
}

fn failure_lines<'a>(app: &App, w: usize, t: Theme) -> Vec<Line<'a>> {
    let Some((step, failure)) = &app.failure else {
        return Vec::new();
    };
    if app.phase != Phase::Failed {
        return Vec::new();
    }
    let what = step.map(|s| s.title()).unwrap_or("The run");
    let mut out = vec![Line::styled(format!("✗ {what} failed"), t.err())];
    for l in wrap(&failure.message, w) {
        out.push(Line::raw(l));
    }
    if let Some(h) = &failure.hint {
        for l in wrap(&format!("hint: {h}"), w) {
            out.push(Line::styled(l, t.warn()));
        }
    }
    out.push(Line::from(vec![
        Span::styled("r", t.accent()),
        Span::raw(" retry   "),
        Span::styled("s", t.accent()),
        Span::raw(" skip this step   "),
        Span::styled("q", t.accent()),
        Span::raw(" quit"),
    ]));
    out
}
