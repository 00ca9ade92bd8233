//! The end of the run: what is in place, where the config file is, and the choice to deploy
//! now (handing over to the deploy engine) or later (printing the command). The choice comes
//! first so it is on screen at 80×24 without scrolling.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::app::App;
use super::screens::{scrolled, step_rows};
use crate::engine::ParameterAction;
use crate::ui::wizard::text::{Theme, fit, pad, wrap};

pub fn finished(app: &App, f: &mut Frame, area: Rect, t: Theme) {
    let w = area.width.saturating_sub(2) as usize;
    let env = app.env();
    let head = if app.dry_run {
        format!("✓ Dry run of {env} finished: nothing in AWS was touched.")
    } else {
        format!("✓ The prerequisites of {env} are in place.")
    };
    let mut lines: Vec<Line> = wrap(&head, w)
        .into_iter()
        .map(|l| Line::styled(l, t.ok()))
        .collect();
    let config = config_path(app);
    lines.push(Line::from(vec![
        Span::styled(pad("Config file", 13), t.bold()),
        Span::raw(fit(&config, w.saturating_sub(13))),
    ]));
    lines.push(Line::raw(""));
    if app.dry_run {
        for l in wrap("Enter exits. Run again without --dry-run to apply.", w) {
            lines.push(Line::styled(l, t.bold()));
        }
        lines.push(Line::raw(""));
        lines.extend(step_rows(app, w, t));
        scrolled(f, area, " Done ".into(), lines, app.scroll, t);
        return;
    }
    // The choice first: at 80×24 it must be on screen without scrolling.
    lines.push(Line::styled("Deploy the Medplum stacks:", t.bold()));
    let choices = [
        (
            "Deploy now",
            if app.deploy_available {
                "the deploy takes over this terminal"
            } else {
                "not in this build"
            },
        ),
        ("Deploy later", "print the command and exit"),
    ];
    for (i, (label, hint)) in choices.into_iter().enumerate() {
        let chosen = app.deploy_choice == i;
        let style = if chosen {
            t.selected()
        } else if i == 0 && !app.deploy_available {
            t.dim()
        } else {
            t.plain()
        };
        lines.push(Line::from(vec![
            Span::styled(
                format!(" {} {}", if chosen { "▸" } else { " " }, pad(label, 13)),
                style,
            ),
            Span::styled(format!("  {hint}"), t.dim()),
        ]));
    }
    lines.push(Line::raw(""));
    if !app.changes.is_empty() {
        let written = app
            .changes
            .iter()
            .filter(|c| c.action != ParameterAction::Unchanged)
            .count();
        lines.push(Line::from(vec![
            Span::styled(pad("Parameters", 13), t.bold()),
            Span::raw(format!(
                "{written} written, {} already in place",
                app.changes.len() - written
            )),
        ]));
    }
    let warnings = app
        .activity
        .iter()
        .filter(|a| {
            matches!(
                a,
                super::app::Activity::Note {
                    level: super::app::Level::Warn,
                    ..
                }
            )
        })
        .count();
    if warnings > 0 {
        lines.push(Line::from(vec![
            Span::styled(pad("Warnings", 13), t.bold()),
            Span::styled(format!("{warnings}; see AWS activity"), t.warn()),
        ]));
    }
    lines.extend(step_rows(app, w, t));
    scrolled(f, area, " Done ".into(), lines, app.scroll, t);
}

/// The config file's path as the summary shows it.
pub fn config_path(app: &App) -> String {
    if let Some(p) = app.files.iter().rev().find(|p| p.ends_with(".config.json")) {
        return p.clone();
    }
    if let Some(p) = &app.preview {
        return p.config_path.display().to_string();
    }
    crate::config::infra::config_file_name(&app.env())
}
