//! The journal, `.medplum-init/<env>/state.json`: what each step did (ids and ARNs, never
//! secrets), written atomically after every effect so a run killed at any point resumes.
//!
//! Steps keep their own record under their id as free-form JSON they define; the journal only
//! adds a status and a timestamp. It is also where "intent" is recorded before a create call
//! (a CloudFront CallerReference, an ACM idempotency token), so a crash between the call and its
//! answer still lets the next run find what was created.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value;

use super::event::StepId;
use crate::fsutil;

pub const STATE_DIR: &str = ".medplum-init";
/// Where the journal keeps the answers of the last install run, as answers-file text without
/// secret values: written when a run starts (guided or headless), read back to resume and by
/// `step`, which re-runs a step with no answers file. The name is older than headless runs
/// recording their answers too; it stays so earlier journals keep working.
pub const ANSWERS_KEY: &str = "guided_answers";
const VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("could not read the journal {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// serde's message quotes the file (``unknown variant `…` ``): shown escaped and cut.
    #[error(
        "the journal {path} is damaged: {}",
        crate::config::validators::escape_controls(&.source.to_string(), 240)
    )]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(
        "the journal {path} belongs to environment '{}', not '{expected}'",
        crate::config::validators::shown(.found)
    )]
    WrongEnv {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error("the journal {path} was written by a newer medplum-init (format {found})")]
    TooNew { path: PathBuf, found: u32 },
    #[error("could not write the journal {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("another medplum-init run holds {path}")]
    Locked { path: PathBuf },
    /// A step's record no longer parses: using a default instead would forget what it recorded
    /// (a CallerReference, an idempotency token) and create duplicates.
    #[error(
        "the journal {path} holds a record for step '{step}' that cannot be read: {}",
        crate::config::validators::escape_controls(.problem, 240)
    )]
    Record {
        path: PathBuf,
        step: String,
        problem: String,
    },
    #[error("the state folder {path} cannot be used: {source}")]
    StateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the environment name {shown} cannot name a state folder: {problem}")]
    BadEnv { shown: String, problem: String },
}

impl JournalError {
    /// Local state the user must fix before anything runs (exit code 2, nothing written).
    fn is_usage(&self) -> bool {
        match self {
            JournalError::StateDir { .. } | JournalError::BadEnv { .. } => true,
            // fsutil refuses a link at our own path with PermissionDenied.
            JournalError::Read { source, .. } | JournalError::Write { source, .. } => {
                source.kind() == std::io::ErrorKind::PermissionDenied
            }
            _ => false,
        }
    }
}

impl crate::error::Diagnostic for JournalError {
    fn outcome(&self) -> crate::outcome::Outcome {
        if self.is_usage() {
            crate::outcome::Outcome::Invalid
        } else {
            crate::outcome::Outcome::Failed
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            JournalError::Locked { .. } => Some("wait for the other run to finish; if none is running, the lock is stale and is released when its process exits".into()),
            JournalError::Parse { path, .. } => Some(format!("restore {} from a backup, or move it aside to start over (AWS resources are found again by name and tag, but a create that was in flight may be repeated)", path.display())),
            JournalError::Record { path, step, .. } => Some(format!("restore {} from a backup, or fix or remove the \"{step}\" entry under \"steps\" by hand; medplum-init will not guess, because a lost record can mean duplicate resources", path.display())),
            JournalError::BadEnv { .. } => Some(crate::config::validators::ENV_NAME_FIX.into()),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    #[default]
    Pending,
    InProgress,
    Done,
    Skipped,
    Failed,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StepRecord {
    pub status: StepStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<String>,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub data: Value,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    pub env: String,
    #[serde(default)]
    pub steps: BTreeMap<StepId, StepRecord>,
    /// Records of later stages (the deploy engine) that are not prerequisite steps.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, Value>,
}

/// Shared handle to one environment's journal.
#[derive(Clone, Debug)]
pub struct Journal {
    path: Option<PathBuf>,
    /// The file a read-only journal was loaded from, for messages.
    source: Option<PathBuf>,
    state: Arc<Mutex<State>>,
    /// Held for the life of the run: one run per environment at a time.
    _lock: Option<Arc<File>>,
}

pub fn state_dir(dir: &Path, env: &str) -> PathBuf {
    dir.join(STATE_DIR).join(env)
}

/// Where a dry run writes what it would write: never over a real file.
pub fn dry_run_dir(dir: &Path, env: &str) -> PathBuf {
    state_dir(dir, env).join("dry-run")
}

/// The environment names a folder: refuse anything but a plain name (no `/`, `..`, NUL or
/// control characters), whatever path it came by.
fn check_env(env: &str) -> Result<(), JournalError> {
    crate::config::validators::env_name(env).map_err(|(problem, _)| JournalError::BadEnv {
        shown: crate::config::validators::shown(env),
        problem,
    })
}

/// Creates (or checks) `.medplum-init/` and `.medplum-init/<env>/`: private folders of the
/// current user (0700), never a link, never writable by others, with a `.gitignore` of `*` in
/// `.medplum-init/` so the journal and a pending key are never committed.
pub fn prepare_state_dir(dir: &Path, env: &str) -> Result<PathBuf, JournalError> {
    check_env(env)?;
    let root = dir.join(STATE_DIR);
    let sdir = state_dir(dir, env);
    let fail = |path: &Path| {
        let path = path.to_path_buf();
        move |source| JournalError::StateDir { path, source }
    };
    if !dir.as_os_str().is_empty() {
        std::fs::create_dir_all(dir).map_err(fail(dir))?;
    }
    fsutil::ensure_private_dir(&root).map_err(fail(&root))?;
    fsutil::ensure_gitignore(&root).map_err(fail(&root))?;
    fsutil::ensure_private_dir(&sdir).map_err(fail(&sdir))?;
    Ok(sdir)
}

impl Journal {
    /// Reads (or starts) the journal without taking the lock: for dry runs, status and plans.
    pub fn read_only(dir: &Path, env: &str) -> Result<Self, JournalError> {
        check_env(env)?;
        let path = state_dir(dir, env).join("state.json");
        let state = Self::load(&path, env)?;
        Ok(Self {
            path: None,
            source: Some(path),
            state: Arc::new(Mutex::new(state)),
            _lock: None,
        })
    }

    /// Opens the journal for writing and takes the environment's lock.
    pub fn open(dir: &Path, env: &str) -> Result<Self, JournalError> {
        let sdir = prepare_state_dir(dir, env)?;
        let lock_path = sdir.join("lock");
        let lock = fsutil::open_append_private(&lock_path, 0o600).map_err(|source| {
            JournalError::Write {
                path: lock_path.clone(),
                source,
            }
        })?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(JournalError::Locked { path: lock_path });
            }
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(JournalError::Write {
                    path: lock_path,
                    source,
                });
            }
        }
        // Under the lock, so no other run of this environment is writing: the drafts a killed
        // run left (its journal, pending key and config file writes) are removed.
        let start = fsutil::process_start();
        let root = dir.join(STATE_DIR);
        for folder in [sdir.as_path(), root.as_path()] {
            fsutil::remove_stale_temps(folder, None, start);
        }
        let config = crate::config::infra::config_file_name(env);
        fsutil::remove_stale_temps(
            if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            },
            Some(&config),
            start,
        );
        let path = sdir.join("state.json");
        let state = Self::load(&path, env)?;
        Ok(Self {
            source: Some(path.clone()),
            path: Some(path),
            state: Arc::new(Mutex::new(state)),
            _lock: Some(Arc::new(lock)),
        })
    }

    /// A journal that lives in memory only.
    pub fn in_memory(env: &str) -> Self {
        Self {
            path: None,
            source: None,
            state: Arc::new(Mutex::new(State {
                version: VERSION,
                env: env.into(),
                ..Default::default()
            })),
            _lock: None,
        }
    }

    fn load(path: &Path, env: &str) -> Result<State, JournalError> {
        match fsutil::read_nofollow(path) {
            Ok(Some(bytes)) => {
                let state: State =
                    serde_json::from_slice(&bytes).map_err(|source| JournalError::Parse {
                        path: path.into(),
                        source,
                    })?;
                if state.version > VERSION {
                    return Err(JournalError::TooNew {
                        path: path.into(),
                        found: state.version,
                    });
                }
                if state.env != env {
                    return Err(JournalError::WrongEnv {
                        path: path.into(),
                        found: state.env,
                        expected: env.into(),
                    });
                }
                Ok(state)
            }
            Ok(None) => Ok(State {
                version: VERSION,
                env: env.into(),
                ..Default::default()
            }),
            Err(source) => Err(JournalError::Read {
                path: path.into(),
                source,
            }),
        }
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub fn is_persistent(&self) -> bool {
        self.path.is_some()
    }

    pub fn snapshot(&self) -> State {
        self.state.lock().expect("journal lock").clone()
    }

    pub fn status(&self, step: StepId) -> StepStatus {
        self.state
            .lock()
            .expect("journal lock")
            .steps
            .get(&step)
            .map(|r| r.status)
            .unwrap_or_default()
    }

    /// The step's record, if it has one. A record that does not parse as `T` is an error, never
    /// a silent `None`: the step would start over and repeat creates the record guards.
    pub fn data<T: DeserializeOwned>(&self, step: StepId) -> Result<Option<T>, JournalError> {
        let state = self.state.lock().expect("journal lock");
        let Some(rec) = state.steps.get(&step) else {
            return Ok(None);
        };
        self.parse_record(step, &rec.data)
    }

    fn parse_record<T: DeserializeOwned>(
        &self,
        step: StepId,
        data: &Value,
    ) -> Result<Option<T>, JournalError> {
        if data.is_null() {
            return Ok(None);
        }
        serde_json::from_value(data.clone())
            .map(Some)
            .map_err(|e| JournalError::Record {
                path: self.shown_path(),
                step: step.to_string(),
                problem: e.to_string(),
            })
    }

    /// The file, for messages (a read-only journal keeps no path of its own).
    fn shown_path(&self) -> PathBuf {
        self.path
            .clone()
            .or_else(|| self.source.clone())
            .unwrap_or_else(|| PathBuf::from("(in memory)"))
    }

    /// Read-modify-write of a step's record, persisted before returning.
    pub fn update<T, F>(&self, step: StepId, f: F) -> Result<T, JournalError>
    where
        T: Serialize + DeserializeOwned + Default,
        F: FnOnce(&mut T),
    {
        let mut state = self.state.lock().expect("journal lock");
        let current = state.steps.get(&step).map(|r| r.data.clone());
        let mut data: T = match current {
            Some(v) => self.parse_record(step, &v)?.unwrap_or_default(),
            None => T::default(),
        };
        let rec = state.steps.entry(step).or_default();
        f(&mut data);
        rec.data = serde_json::to_value(&data).expect("journal records serialise");
        rec.updated = Some(super::time::now_rfc3339());
        self.persist(&state)?;
        Ok(data)
    }

    pub fn set_status(&self, step: StepId, status: StepStatus) -> Result<(), JournalError> {
        let mut state = self.state.lock().expect("journal lock");
        let rec = state.steps.entry(step).or_default();
        rec.status = status;
        rec.updated = Some(super::time::now_rfc3339());
        self.persist(&state)
    }

    /// Records of later stages (deploy outputs), by name. Their writers re-derive them from AWS
    /// when they are missing, so one that does not parse reads as absent.
    pub fn extra<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        let state = self.state.lock().expect("journal lock");
        state
            .extra
            .get(key)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    }

    /// A later stage's record, as [`Journal::data`] reads a step's: one that does not parse is
    /// an error, never a silent `None`.
    pub fn extra_record<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, JournalError> {
        let state = self.state.lock().expect("journal lock");
        let Some(v) = state.extra.get(key) else {
            return Ok(None);
        };
        serde_json::from_value(v.clone())
            .map(Some)
            .map_err(|e| JournalError::Record {
                path: self.shown_path(),
                step: key.to_string(),
                problem: e.to_string(),
            })
    }

    pub fn remove_extra(&self, key: &str) -> Result<(), JournalError> {
        let mut state = self.state.lock().expect("journal lock");
        if state.extra.remove(key).is_none() {
            return Ok(());
        }
        self.persist(&state)
    }

    pub fn set_extra<T: Serialize>(&self, key: &str, value: &T) -> Result<(), JournalError> {
        let mut state = self.state.lock().expect("journal lock");
        state.extra.insert(
            key.into(),
            serde_json::to_value(value).expect("journal records serialise"),
        );
        self.persist(&state)
    }

    fn persist(&self, state: &State) -> Result<(), JournalError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let mut text = serde_json::to_string_pretty(state).expect("journal state serialises");
        text.push('\n');
        // 0600: ids are not secret, but nothing here concerns other users of the machine.
        fsutil::write_atomic(path, text.as_bytes(), 0o600).map_err(|source| JournalError::Write {
            path: path.clone(),
            source,
        })
    }
}

#[cfg(test)]
#[path = "journal_tests.rs"]
mod tests;
