//! The review of a preview, shared by both front ends: every value the run will write (secrets
//! masked), the Parameter Store add / change / unchanged summary, the certificates to request or
//! reuse, and anything worth knowing first. The TUI shows these lines on its review screen; line
//! mode prints them as plain text.

use ratatui::text::{Line, Span};

use super::fields::short_arn;
use super::text::{Theme, fit, pad, row, wrap};
use crate::engine::ParameterAction;
use crate::steps::preview::{CertAction, KeyPlan, LineChange, Preview};

/// The review of a preview, for the TUI and (as plain text) for line mode.
pub fn preview_lines<'a>(p: &Preview, w: usize, t: Theme) -> Vec<Line<'a>> {
    let mut out = Vec::new();
    for (i, l) in wrap(
        "Nothing is written yet. Enter applies all of this; Esc changes answers.",
        w,
    )
    .into_iter()
    .enumerate()
    {
        out.push(Line::styled(l, if i == 0 { t.bold() } else { t.dim() }));
    }
    out.push(Line::raw(""));
    if let Some(acct) = &p.account {
        kv(
            &mut out,
            "Account",
            format!(
                "{acct}{}",
                p.caller_arn
                    .as_deref()
                    .map(|a| format!(" as {a}"))
                    .unwrap_or_default()
            ),
            w,
            t,
        );
    }
    certificates(p, &mut out, w, t);
    signing_key(p, &mut out, w, t);
    match &p.email {
        None => kv(&mut out, "Email (SES)", "left alone".into(), w, t),
        Some(e) => kv(&mut out, "Email (SES)", e.summary(), w, t),
    }
    if let Some(b) = &p.logging_bucket {
        let what = if b.exists {
            format!("{} exists; its policy is checked", b.name)
        } else {
            format!("create {} (private, encrypted, ELB may write)", b.name)
        };
        kv(&mut out, "Log bucket", what, w, t);
    }
    parameters(p, &mut out, w, t);
    config(p, &mut out, w, t);
    if !p.notes.is_empty() {
        out.push(Line::raw(""));
        out.push(Line::styled("Worth knowing", t.bold()));
        for n in &p.notes {
            for (i, l) in wrap(n, w.saturating_sub(4)).into_iter().enumerate() {
                let lead = if i == 0 { "  ! " } else { "    " };
                out.push(Line::styled(format!("{lead}{l}"), t.warn()));
            }
        }
    }
    out
}

fn kv<'a>(out: &mut Vec<Line<'a>>, key: &str, value: String, w: usize, t: Theme) {
    let key_w = 14;
    for (i, l) in wrap(&value, w.saturating_sub(key_w))
        .into_iter()
        .enumerate()
    {
        let k = if i == 0 {
            pad(key, key_w)
        } else {
            " ".repeat(key_w)
        };
        out.push(Line::from(vec![Span::styled(k, t.bold()), Span::raw(l)]));
    }
}

fn certificates<'a>(p: &Preview, out: &mut Vec<Line<'a>>, w: usize, t: Theme) {
    out.push(Line::raw(""));
    out.push(Line::styled("Certificates (ACM)", t.bold()));
    for c in &p.certificates {
        let (what, style) = match &c.action {
            CertAction::Request => ("request, DNS validated".to_string(), t.warn()),
            CertAction::Reuse { arn } => (format!("reuse {}", short_id(arn)), t.ok()),
            CertAction::Resume { arn, status } => (
                format!(
                    "keep {} ({})",
                    short_id(arn),
                    status.to_lowercase().replace('_', " ")
                ),
                t.ok(),
            ),
            CertAction::Given { arn } => (format!("use {}", short_id(arn)), t.plain()),
            CertAction::Skip => ("skip: set the ARN later".to_string(), t.dim()),
        };
        let mut left = vec![
            Span::raw(format!("  {} ", pad(&c.purpose, 8))),
            Span::raw(c.domain.clone()),
        ];
        // The region when there is room; the help explains where each one lives.
        if w >= 80 {
            left.push(Span::styled(format!(" {}", c.region), t.dim()));
        }
        out.push(row(left, Span::styled(what, style), w));
    }
}

/// The certificate id's first block: enough to tell certificates apart on screen.
fn short_id(arn: &str) -> String {
    let id = short_arn(arn);
    let id = id.trim_start_matches("certificate/");
    match id.split_once('-') {
        Some((head, _)) => format!("{head}…"),
        None => id.to_string(),
    }
}

fn signing_key<'a>(p: &Preview, out: &mut Vec<Line<'a>>, w: usize, t: Theme) {
    let what = match &p.signing_key {
        KeyPlan::Generate => {
            "generate RSA-2048; private half and passphrase to SSM, public half to CloudFront"
                .to_string()
        }
        KeyPlan::InSsm => "keep the key in SSM; register its public half if needed".into(),
        KeyPlan::Recorded { id } => format!("keep {id}, registered earlier"),
        KeyPlan::Given { id } => format!("use CloudFront key {id}"),
    };
    out.push(Line::raw(""));
    kv(out, "Signing key", what, w, t);
}

fn parameters<'a>(p: &Preview, out: &mut Vec<Line<'a>>, w: usize, t: Theme) {
    let (add, change, same) = p.parameter_counts();
    out.push(Line::raw(""));
    kv(
        out,
        "Parameters",
        format!("{add} to add, {change} to change, {same} unchanged (SecureString)"),
        w,
        t,
    );
    for c in &p.parameters {
        let (mark, style) = match c.action {
            ParameterAction::Add => ("+", t.ok()),
            ParameterAction::Change => ("~", t.warn()),
            ParameterAction::Unchanged => ("=", t.dim()),
        };
        let mut text = format!("{} = {}", c.name, c.new);
        if let Some(old) = &c.old {
            text.push_str(&format!("  (was {old})"));
        }
        out.push(Line::from(vec![
            Span::styled(format!("  {mark} "), style),
            Span::styled(
                fit(&text, w.saturating_sub(4)),
                if c.action == ParameterAction::Unchanged {
                    t.dim()
                } else {
                    t.plain()
                },
            ),
        ]));
    }
}

fn config<'a>(p: &Preview, out: &mut Vec<Line<'a>>, w: usize, t: Theme) {
    out.push(Line::raw(""));
    let state = if p.config_exists {
        "update"
    } else {
        "new file"
    };
    out.push(Line::from(vec![
        Span::styled("Config file ", t.bold()),
        Span::raw(fit(
            &format!("{} ({state})", p.config_path.display()),
            w.saturating_sub(12),
        )),
    ]));
    for l in &p.config {
        let (mark, style) = match &l.change {
            LineChange::Added => ("+", t.ok()),
            LineChange::Changed { .. } => ("~", t.warn()),
            LineChange::Same => ("=", t.dim()),
        };
        let value = match &l.value {
            serde_json::Value::String(s) if s.starts_with("-----BEGIN") => {
                format!(
                    "\"{}…\" ({} chars)",
                    s.lines().next().unwrap_or(""),
                    s.len()
                )
            }
            v => v.to_string(),
        };
        let mut text = format!("{} = {value}", l.key);
        if let LineChange::Changed { old } = &l.change {
            text.push_str(&format!("  (was {old})"));
        }
        out.push(Line::from(vec![
            Span::styled(format!("  {mark} "), style),
            Span::styled(
                fit(&text, w.saturating_sub(4)),
                if matches!(l.change, LineChange::Same) {
                    t.dim()
                } else {
                    t.plain()
                },
            ),
        ]));
    }
}
