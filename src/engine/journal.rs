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
const VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("could not read the journal {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the journal {path} is damaged: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("the journal {path} belongs to environment '{found}', not '{expected}'")]
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
}

impl JournalError {
    pub fn hint(&self) -> Option<String> {
        match self {
            JournalError::Locked { .. } => Some("wait for the other run to finish; if none is running, the lock is stale and is released when its process exits".into()),
            JournalError::Parse { path, .. } => Some(format!("move {} aside to start over; AWS resources are found again by name and tag", path.display())),
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
    state: Arc<Mutex<State>>,
    /// Held for the life of the run: one run per environment at a time.
    _lock: Option<Arc<File>>,
}

pub fn state_dir(dir: &Path, env: &str) -> PathBuf {
    dir.join(STATE_DIR).join(env)
}

impl Journal {
    /// Reads (or starts) the journal without taking the lock: for dry runs, status and plans.
    pub fn read_only(dir: &Path, env: &str) -> Result<Self, JournalError> {
        let path = state_dir(dir, env).join("state.json");
        let state = Self::load(&path, env)?;
        Ok(Self {
            path: None,
            state: Arc::new(Mutex::new(state)),
            _lock: None,
        })
    }

    /// Opens the journal for writing and takes the environment's lock.
    pub fn open(dir: &Path, env: &str) -> Result<Self, JournalError> {
        let sdir = state_dir(dir, env);
        std::fs::create_dir_all(&sdir).map_err(|source| JournalError::Write {
            path: sdir.clone(),
            source,
        })?;
        set_private(&sdir);
        let lock_path = sdir.join("lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|source| JournalError::Write {
                path: lock_path.clone(),
                source,
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
        let path = sdir.join("state.json");
        let state = Self::load(&path, env)?;
        Ok(Self {
            path: Some(path),
            state: Arc::new(Mutex::new(state)),
            _lock: Some(Arc::new(lock)),
        })
    }

    /// A journal that lives in memory only.
    pub fn in_memory(env: &str) -> Self {
        Self {
            path: None,
            state: Arc::new(Mutex::new(State {
                version: VERSION,
                env: env.into(),
                ..Default::default()
            })),
            _lock: None,
        }
    }

    fn load(path: &Path, env: &str) -> Result<State, JournalError> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let state: State =
                    serde_json::from_str(&text).map_err(|source| JournalError::Parse {
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
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State {
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

    /// The step's record, if it has one that parses as `T`.
    pub fn data<T: DeserializeOwned>(&self, step: StepId) -> Option<T> {
        let state = self.state.lock().expect("journal lock");
        let rec = state.steps.get(&step)?;
        if rec.data.is_null() {
            return None;
        }
        serde_json::from_value(rec.data.clone()).ok()
    }

    /// Read-modify-write of a step's record, persisted before returning.
    pub fn update<T, F>(&self, step: StepId, f: F) -> Result<T, JournalError>
    where
        T: Serialize + DeserializeOwned + Default,
        F: FnOnce(&mut T),
    {
        let mut state = self.state.lock().expect("journal lock");
        let rec = state.steps.entry(step).or_default();
        let mut data: T = if rec.data.is_null() {
            T::default()
        } else {
            serde_json::from_value(rec.data.clone()).unwrap_or_default()
        };
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

    /// Records of later stages (deploy outputs), by name.
    pub fn extra<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        let state = self.state.lock().expect("journal lock");
        state
            .extra
            .get(key)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
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

fn set_private(dir: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
    struct Rec {
        id: Option<String>,
        n: u32,
    }

    #[test]
    fn updates_persist_and_reload() {
        let dir = tempfile::tempdir().unwrap();
        {
            let j = Journal::open(dir.path(), "staging").unwrap();
            j.update::<Rec, _>(StepId::SigningKey, |r| {
                r.id = Some("K123".into());
                r.n += 1;
            })
            .unwrap();
            j.set_status(StepId::SigningKey, StepStatus::Done).unwrap();
        }
        let j = Journal::open(dir.path(), "staging").unwrap();
        assert_eq!(j.status(StepId::SigningKey), StepStatus::Done);
        assert_eq!(
            j.data::<Rec>(StepId::SigningKey),
            Some(Rec {
                id: Some("K123".into()),
                n: 1
            })
        );
        assert_eq!(j.status(StepId::Email), StepStatus::Pending);
    }

    #[test]
    fn a_second_run_is_locked_out() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Journal::open(dir.path(), "staging").unwrap();
        assert!(matches!(
            Journal::open(dir.path(), "staging"),
            Err(JournalError::Locked { .. })
        ));
        assert!(Journal::read_only(dir.path(), "staging").is_ok());
    }

    #[test]
    fn a_journal_of_another_env_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let j = Journal::open(dir.path(), "staging").unwrap();
            j.set_status(StepId::Identity, StepStatus::Done).unwrap();
        }
        let sdir = state_dir(dir.path(), "staging");
        std::fs::create_dir_all(state_dir(dir.path(), "prod")).unwrap();
        std::fs::copy(
            sdir.join("state.json"),
            state_dir(dir.path(), "prod").join("state.json"),
        )
        .unwrap();
        assert!(matches!(
            Journal::open(dir.path(), "prod"),
            Err(JournalError::WrongEnv { .. })
        ));
    }
}
