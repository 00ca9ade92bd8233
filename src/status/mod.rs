//! `status`: an environment's health, one check per line with a verdict and, where it is not
//! healthy, the fix. The facts are read from AWS concurrently ([`facts`]); each verdict is a
//! pure function of them ([`verdicts`]), so every rule is tested without AWS. Read-only: no
//! check writes anything, and the journal is opened without its lock (a deploy may be running).

pub mod facts;
pub mod verdicts;

use serde::Serialize;

/// How a check came out. Ordered: the report's verdict is the worst of its checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Healthy,
    /// Works now, but needs attention (a certificate near expiry, SES in the sandbox).
    Warning,
    /// Could not be checked (an AWS call failed, the emulator lacks it): says why.
    Unknown,
    Unhealthy,
}

impl Verdict {
    pub fn icon(self) -> &'static str {
        match self {
            Verdict::Healthy => "✓",
            Verdict::Warning => "!",
            Verdict::Unknown => "?",
            Verdict::Unhealthy => "✗",
        }
    }

    /// Whether `status` exits 1 for it. An unknown is not healthy: monitoring must not read
    /// "could not look" as "fine".
    pub fn fails(self) -> bool {
        self != Verdict::Healthy && self != Verdict::Warning
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// certificates, email, parameters, signing key, stacks, config.
    pub area: &'static str,
    /// What was checked: `api certificate`, `/medplum/staging/baseUrl`, ...
    pub name: String,
    pub verdict: Verdict,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    pub fn new(area: &'static str, name: impl Into<String>, verdict: Verdict) -> Self {
        Self {
            area,
            name: name.into(),
            verdict,
            detail: String::new(),
            fix: None,
        }
    }
    pub fn detail(mut self, d: impl Into<String>) -> Self {
        self.detail = d.into();
        self
    }
    pub fn fix(mut self, f: impl Into<String>) -> Self {
        self.fix = Some(f.into());
        self
    }
}

/// The whole report: the checks in area order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub env: String,
    pub checks: Vec<Check>,
}

impl Report {
    /// The worst verdict; healthy for an empty report.
    pub fn verdict(&self) -> Verdict {
        self.checks
            .iter()
            .map(|c| c.verdict)
            .max()
            .unwrap_or(Verdict::Healthy)
    }

    /// The report as text: a line per check, the fix indented under it.
    pub fn text(&self) -> String {
        let width = self
            .checks
            .iter()
            .map(|c| c.name.chars().count())
            .max()
            .unwrap_or(0);
        let mut out = String::new();
        let mut area = "";
        for c in &self.checks {
            if c.area != area {
                area = c.area;
                out.push_str(&format!("{area}\n"));
            }
            let pad = width.saturating_sub(c.name.chars().count());
            out.push_str(&format!(
                "  {} {}{}  {}\n",
                c.verdict.icon(),
                c.name,
                " ".repeat(pad),
                c.detail
            ));
            if let Some(f) = &c.fix {
                out.push_str(&format!("      fix: {f}\n"));
            }
        }
        let failing = self.checks.iter().filter(|c| c.verdict.fails()).count();
        let warnings = self
            .checks
            .iter()
            .filter(|c| c.verdict == Verdict::Warning)
            .count();
        out.push_str(&match (failing, warnings) {
            (0, 0) => format!("{}: healthy ({} checks)\n", self.env, self.checks.len()),
            (0, w) => format!("{}: healthy, {w} warning(s)\n", self.env),
            (f, w) => format!("{}: {f} check(s) not healthy, {w} warning(s)\n", self.env),
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_is_as_bad_as_its_worst_check_and_says_each_fix() {
        let mut r = Report {
            env: "staging".into(),
            checks: vec![
                Check::new("certificates", "api certificate", Verdict::Healthy).detail("ISSUED"),
                Check::new("certificates", "app certificate", Verdict::Warning)
                    .detail("expires in 20 days"),
            ],
        };
        assert_eq!(r.verdict(), Verdict::Warning);
        assert!(!r.verdict().fails());
        r.checks.push(
            Check::new("parameters", "/medplum/staging/baseUrl", Verdict::Unhealthy)
                .detail("missing")
                .fix("write it"),
        );
        assert_eq!(r.verdict(), Verdict::Unhealthy);
        let text = r.text();
        assert!(
            text.starts_with("certificates\n  ✓ api certificate           ISSUED\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "parameters\n  ✗ /medplum/staging/baseUrl  missing\n      fix: write it\n"
            ),
            "{text}"
        );
        assert!(
            text.ends_with("staging: 1 check(s) not healthy, 1 warning(s)\n"),
            "{text}"
        );
        assert!(Verdict::Unknown.fails(), "could not look is not healthy");
    }
}
