//! The review screen: the answers' problems, a preview that failed, the dry run's answers, or
//! the preview itself ([`crate::ui::wizard::review`], the lines line mode prints too). Its facts
//! come from [`crate::steps::preview`], read just before; nothing has been written when it is on
//! screen.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;

use super::app::App;
use super::screens::scrolled;
use crate::ui::wizard::review::preview_lines;
use crate::ui::wizard::text::{Theme, fit, wrap};

pub fn review(app: &App, f: &mut Frame, area: Rect, t: Theme) {
    let w = area.width.saturating_sub(2) as usize;
    let lines = lines(app, w, t);
    scrolled(f, area, " Review ".into(), lines, app.scroll, t);
}

pub fn lines<'a>(app: &App, w: usize, t: Theme) -> Vec<Line<'a>> {
    let mut out = Vec::new();
    if !app.other_errors.is_empty() {
        out.push(Line::styled("The answers have problems:", t.err()));
        for e in &app.other_errors {
            for l in wrap(&format!("✗ {}: {} ({})", e.key, e.problem, e.fix), w) {
                out.push(Line::styled(l, t.err()));
            }
        }
        out.push(Line::raw(""));
        out.push(Line::styled("Esc goes back to the answers.", t.dim()));
        return out;
    }
    if let Some(fail) = &app.preview_error {
        out.push(Line::styled(
            "AWS could not be read for the review:",
            t.err(),
        ));
        for l in wrap(&fail.message, w) {
            out.push(Line::raw(l));
        }
        if let Some(h) = &fail.hint {
            for l in wrap(&format!("hint: {h}"), w) {
                out.push(Line::styled(l, t.warn()));
            }
        }
        out.push(Line::raw(""));
        out.push(Line::styled(
            "r reads again; Esc goes back to the answers. Nothing was written.",
            t.dim(),
        ));
        return out;
    }
    if app.dry_run {
        for l in wrap(
            "Dry run: nothing in AWS will be touched. Enter plans every call and writes the \
             config file for review.",
            w,
        ) {
            out.push(Line::styled(l, t.bold()));
        }
        out.push(Line::raw(""));
        for l in app.draft.to_toml(&app.known).lines() {
            out.push(Line::raw(fit(&format!("  {l}"), w)));
        }
        return out;
    }
    let Some(p) = &app.preview else {
        return out;
    };
    out.extend(preview_lines(p, w, t));
    out
}
