//! Picking up where an earlier run stopped: which environment the folder holds, the answers the
//! last guided run gave (kept in the journal, without secrets), the config file's values (a hand
//! edit wins), and which steps the journal records as done.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use super::Draft;
use super::draft::Recorded;
use crate::config::infra::{ConfigDocument, config_path};
use crate::engine::journal::{STATE_DIR, StepStatus, state_dir};
use crate::engine::{Journal, StepId};
use crate::guided::ANSWERS_KEY;
use crate::steps::certificates;
use crate::steps::signing_key::KeyRecord;

/// What an earlier run left behind.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resume {
    pub env: String,
    /// What the answers were filled from, for the banner ("the journal", the config file's name).
    pub sources: Vec<String>,
    pub statuses: BTreeMap<StepId, StepStatus>,
}

impl Resume {
    pub fn done(&self) -> impl Iterator<Item = StepId> + '_ {
        self.statuses
            .iter()
            .filter(|(_, s)| **s == StepStatus::Done)
            .map(|(id, _)| *id)
    }

    /// True when every answer came from an earlier run, so the review can come first.
    pub fn has_answers(&self) -> bool {
        !self.sources.is_empty()
    }
}

/// The environment to pick up: `--env` when given, else the one whose journal or config file in
/// `dir` changed last.
pub fn discover_env(dir: &Path, env: Option<&str>) -> Option<String> {
    if let Some(e) = env {
        return Some(e.to_string());
    }
    let mut found: Vec<(SystemTime, String)> = Vec::new();
    let modified = |p: &Path| {
        std::fs::metadata(p)
            .and_then(|m| m.modified())
            .unwrap_or(SystemTime::UNIX_EPOCH)
    };
    if let Ok(entries) = std::fs::read_dir(dir.join(STATE_DIR)) {
        for e in entries.flatten() {
            let state = e.path().join("state.json");
            if state.is_file()
                && let Some(name) = e.file_name().to_str()
            {
                found.push((modified(&state), name.to_string()));
            }
        }
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(env) = name
                .strip_prefix("medplum.")
                .and_then(|r| r.strip_suffix(".config.json"))
                .filter(|e| !e.is_empty() && !e.contains('.'))
            {
                found.push((modified(&e.path()), env.to_string()));
            }
        }
    }
    found.sort();
    found.pop().map(|(_, env)| env)
}

/// The draft an earlier run leaves for `env`, and what it says about the steps. Problems reading
/// either file are returned as notes: the guided install then starts from defaults.
pub fn load(dir: &Path, env: &str) -> (Draft, Option<Resume>, Vec<String>) {
    let mut notes = Vec::new();
    let mut draft = Draft::default();
    let mut resume = Resume {
        env: env.to_string(),
        ..Default::default()
    };
    let journal_exists = state_dir(dir, env).join("state.json").is_file();
    let mut recorded = Recorded::default();
    if journal_exists {
        match Journal::read_only(dir, env) {
            Ok(j) => {
                let state = j.snapshot();
                resume.statuses = state.steps.iter().map(|(k, r)| (*k, r.status)).collect();
                // A damaged record is reported here and refused by the run itself.
                match j.data::<KeyRecord>(StepId::SigningKey) {
                    Ok(r) => recorded.signing_key = r.is_some_and(|r| r.key_id.is_some()),
                    Err(e) => notes.push(e.to_string()),
                }
                let certs = j
                    .data::<certificates::Record>(StepId::Certificates)
                    .unwrap_or_else(|e| {
                        notes.push(e.to_string());
                        None
                    });
                if let Some(certs) = certs {
                    recorded.certificates = certs
                        .certificates
                        .into_iter()
                        .map(|(purpose, r)| (purpose, r.arn))
                        .collect();
                }
                if let Some(text) = j.extra::<String>(ANSWERS_KEY) {
                    match Draft::from_toml(&text) {
                        Ok(d) => {
                            draft = d;
                            resume.sources.push("the journal".into());
                        }
                        Err(e) => {
                            notes.push(format!("the answers in the journal are unreadable: {e}"))
                        }
                    }
                }
            }
            Err(e) => notes.push(e.to_string()),
        }
    }
    let path = config_path(dir, env);
    match ConfigDocument::read(&path) {
        Ok(Some(doc)) => {
            draft.overlay_config(&doc, &recorded);
            resume.sources.push(
                path.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            );
        }
        Ok(None) => {}
        Err(e) => notes.push(e.to_string()),
    }
    draft.set(super::FieldId::Name, env.to_string());
    let found = journal_exists || !resume.sources.is_empty();
    (draft, found.then_some(resume), notes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::wizard::{FieldId, Known};

    #[test]
    fn newest_environment_wins_and_env_flag_beats_it() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(discover_env(dir.path(), None), None);
        std::fs::write(dir.path().join("medplum.old.config.json"), "{}").unwrap();
        let j = Journal::open(dir.path(), "newer").unwrap();
        j.set_status(StepId::Identity, StepStatus::Done).unwrap();
        let t = SystemTime::now() + std::time::Duration::from_secs(5);
        let f = std::fs::File::options()
            .write(true)
            .open(state_dir(dir.path(), "newer").join("state.json"))
            .unwrap();
        f.set_modified(t).unwrap();
        assert_eq!(discover_env(dir.path(), None).as_deref(), Some("newer"));
        assert_eq!(discover_env(dir.path(), Some("x")).as_deref(), Some("x"));
    }

    #[test]
    fn answers_come_back_from_the_journal_and_config() {
        let dir = tempfile::tempdir().unwrap();
        let k = Known::default();
        let mut d = Draft::default();
        d.set(FieldId::Name, "prod".into());
        d.set(FieldId::DomainName, "example.org".into());
        d.set(FieldId::SupportEmail, "ops@example.org".into());
        {
            let j = Journal::open(dir.path(), "prod").unwrap();
            j.set_extra(ANSWERS_KEY, &d.to_toml(&k)).unwrap();
            j.set_status(StepId::Identity, StepStatus::Done).unwrap();
        }
        std::fs::write(
            dir.path().join("medplum.prod.config.json"),
            r#"{"name":"prod","apiDomainName":"api.edited.example.org"}"#,
        )
        .unwrap();
        let (back, resume, notes) = load(dir.path(), "prod");
        assert!(notes.is_empty(), "{notes:?}");
        let resume = resume.unwrap();
        assert_eq!(resume.done().collect::<Vec<_>>(), vec![StepId::Identity]);
        assert_eq!(resume.sources.len(), 2);
        assert_eq!(back.value(FieldId::SupportEmail, &k), "ops@example.org");
        assert_eq!(back.value(FieldId::ApiDomain, &k), "api.edited.example.org");
        assert_eq!(back.value(FieldId::AppDomain, &k), "app.example.org");
    }
}
