//! The web app's block of the deploy screen, drawn under the resources once the publish began:
//! its title (package, version, bucket), a gauge for the download and then for the objects
//! written, and a line with the object written last, the invalidation, or the end.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, LineGauge, Paragraph};

use super::{Palette, SPINNER, fit};
use crate::deploy::app_progress::{AppPhase, AppProgress};
use crate::deploy::clock::EpochMs;

/// Rows the block takes: its border and two lines.
pub const HEIGHT: u16 = 4;

pub fn draw(app: &AppProgress, now_ms: EpochMs, frame: &mut Frame, area: Rect, p: Palette) {
    let mut title = format!(" Web app: {}", app.package);
    if let Some(v) = &app.version {
        title.push_str(&format!(" {v}"));
    }
    if let Some(b) = &app.bucket {
        title.push_str(&format!(" → s3://{b}/"));
    }
    title.push(' ');
    let border = match app.phase {
        AppPhase::Done => p.ok(),
        AppPhase::Failed => p.bad(),
        _ => p.dim(),
    };
    let block = Block::bordered().title(title).border_style(border);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [gauge, detail] =
        Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(inner);
    let width = inner.width as usize;
    let (icon, style) = match app.phase {
        AppPhase::Done => ("✓".to_string(), p.ok()),
        AppPhase::Failed => ("✗".to_string(), p.bad()),
        _ => (
            SPINNER[((now_ms / 100) % 10) as usize].to_string(),
            p.busy(),
        ),
    };
    let phase = match app.phase {
        AppPhase::Fetching => "fetching",
        AppPhase::Uploading => "uploading",
        AppPhase::Invalidating => "invalidating",
        AppPhase::Done => "published",
        AppPhase::Failed => "stopped",
    };
    let ratio = app.ratio().clamp(0.0, 1.0);
    frame.render_widget(
        // Heavy and light lines and the percentage: the bar reads without colour too.
        LineGauge::default()
            .ratio(ratio)
            .filled_symbol("━")
            .unfilled_symbol("─")
            .filled_style(style)
            .unfilled_style(p.dim())
            .label(Span::styled(
                format!("{icon} {phase:<12} {:>3}% ", (ratio * 100.0).round() as u32),
                style,
            )),
        gauge,
    );
    let text = match app.phase {
        AppPhase::Done | AppPhase::Failed => app.message.clone().unwrap_or_default(),
        AppPhase::Fetching => app.label(),
        AppPhase::Uploading => match &app.last_key {
            Some(k) => format!("{} · {k}", app.label()),
            None => app.label(),
        },
        AppPhase::Invalidating => format!(
            "{} · {} uploaded, {} removed",
            app.label(),
            app.uploaded,
            app.removed
        ),
    };
    let line_style = if app.phase == AppPhase::Failed {
        p.bad()
    } else {
        p.dim()
    };
    frame.render_widget(
        Paragraph::new(Line::styled(fit(&text, width), line_style)),
        detail,
    );
}
