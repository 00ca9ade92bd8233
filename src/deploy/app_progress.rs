//! The web app's publish as the panes and the plain log draw it: its phase, the download's
//! bytes, the uploads' count and the invalidation, folded from [`AppEvent`]s into
//! [`DeployState::app`](super::progress::DeployState).

use super::event::AppEvent;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AppPhase {
    #[default]
    Fetching,
    Uploading,
    Invalidating,
    Done,
    Failed,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppProgress {
    pub phase: AppPhase,
    pub package: String,
    pub version: Option<String>,
    pub source: String,
    /// Download: bytes received and the total, when the package comes from a registry.
    pub received: u64,
    pub total: Option<u64>,
    pub bucket: Option<String>,
    pub uploads: usize,
    pub uploaded: usize,
    pub unchanged: usize,
    pub deletes: usize,
    pub removed: usize,
    /// The object written or removed last.
    pub last_key: Option<String>,
    pub invalidation: Option<(String, String)>,
    /// The closing line: what serves where, or why it failed.
    pub message: Option<String>,
}

impl AppProgress {
    pub fn apply(&mut self, e: &AppEvent) {
        match e {
            AppEvent::Fetching {
                package,
                version,
                source,
            } => {
                *self = AppProgress {
                    package: package.clone(),
                    version: version.clone(),
                    source: source.clone(),
                    ..AppProgress::default()
                };
            }
            AppEvent::Download { received, total } => {
                self.received = *received;
                self.total = *total;
            }
            AppEvent::Planned {
                version,
                bucket,
                uploads,
                unchanged,
                deletes,
            } => {
                self.phase = AppPhase::Uploading;
                self.version = Some(version.clone());
                self.bucket = Some(bucket.clone());
                self.uploads = *uploads;
                self.unchanged = *unchanged;
                self.deletes = *deletes;
            }
            AppEvent::Uploaded { key, done, total } => {
                self.phase = AppPhase::Uploading;
                self.uploaded = *done;
                self.uploads = *total;
                self.last_key = Some(key.clone());
            }
            AppEvent::Removed { key } => {
                self.removed += 1;
                self.last_key = Some(key.clone());
            }
            AppEvent::Invalidation { id, status } => {
                self.phase = AppPhase::Invalidating;
                self.invalidation = Some((id.clone(), status.clone()));
            }
            AppEvent::Finished { ok, message } => {
                self.phase = if *ok {
                    AppPhase::Done
                } else {
                    AppPhase::Failed
                };
                self.message = Some(message.clone());
            }
        }
    }

    /// How far along, 0.0 to 1.0, for the gauge: the download while fetching, then the
    /// objects written and removed.
    pub fn ratio(&self) -> f64 {
        match self.phase {
            AppPhase::Fetching => match self.total {
                Some(t) if t > 0 => (self.received as f64 / t as f64).min(1.0),
                _ => 0.0,
            },
            AppPhase::Uploading => {
                let all = self.uploads + self.deletes;
                if all == 0 {
                    1.0
                } else {
                    ((self.uploaded + self.removed) as f64 / all as f64).min(1.0)
                }
            }
            AppPhase::Invalidating | AppPhase::Done => 1.0,
            AppPhase::Failed => 0.0,
        }
    }

    /// The gauge's label: `download 1.2 of 3.4 MB`, `upload 12/40 · remove 0/2`, ...
    pub fn label(&self) -> String {
        match self.phase {
            AppPhase::Fetching => match self.total {
                Some(t) => format!("download {:.1} of {}", self.received as f64 / 1e6, mb(t)),
                None if self.received > 0 => format!("download {}", mb(self.received)),
                None => format!("reading {}", self.source),
            },
            AppPhase::Uploading => {
                let mut s = format!("upload {}/{}", self.uploaded, self.uploads);
                if self.deletes > 0 {
                    s.push_str(&format!(" · remove {}/{}", self.removed, self.deletes));
                }
                if self.unchanged > 0 {
                    s.push_str(&format!(" · {} unchanged", self.unchanged));
                }
                s
            }
            AppPhase::Invalidating => match &self.invalidation {
                Some((id, status)) => format!("invalidation {id}: {status}"),
                None => "invalidating".into(),
            },
            AppPhase::Done | AppPhase::Failed => self.message.clone().unwrap_or_default(),
        }
    }
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fold(events: &[AppEvent]) -> AppProgress {
        let mut p = AppProgress::default();
        for e in events {
            p.apply(e);
        }
        p
    }

    #[test]
    fn a_publish_moves_from_the_download_to_the_uploads_to_the_invalidation() {
        let fetching = AppEvent::Fetching {
            package: "@medplum/app".into(),
            version: Some("5.0.10".into()),
            source: "https://registry.npmjs.org".into(),
        };
        let half = AppEvent::Download {
            received: 1_500_000,
            total: Some(3_000_000),
        };
        let p = fold(&[fetching.clone(), half.clone()]);
        assert_eq!((p.phase, p.ratio()), (AppPhase::Fetching, 0.5));
        assert_eq!(p.label(), "download 1.5 of 3.0 MB");

        let planned = AppEvent::Planned {
            version: "5.0.10".into(),
            bucket: "app.example.com".into(),
            uploads: 3,
            unchanged: 4,
            deletes: 1,
        };
        let up = |done| AppEvent::Uploaded {
            key: format!("k{done}"),
            done,
            total: 3,
        };
        let p = fold(&[fetching.clone(), half.clone(), planned.clone(), up(1)]);
        assert_eq!(p.phase, AppPhase::Uploading);
        assert_eq!(p.ratio(), 0.25);
        assert_eq!(p.label(), "upload 1/3 · remove 0/1 · 4 unchanged");

        let p = fold(&[
            fetching.clone(),
            planned,
            up(1),
            up(2),
            up(3),
            AppEvent::Removed {
                key: "old.js".into(),
            },
            AppEvent::Invalidation {
                id: "I1".into(),
                status: "InProgress".into(),
            },
        ]);
        assert_eq!((p.phase, p.ratio()), (AppPhase::Invalidating, 1.0));
        assert_eq!(p.label(), "invalidation I1: InProgress");
        assert_eq!(p.last_key.as_deref(), Some("old.js"));

        // A new publish (a retry in the same state) starts over.
        let again = fold(&[
            half,
            AppEvent::Finished {
                ok: false,
                message: "x".into(),
            },
            fetching.clone(),
        ]);
        assert_eq!(again, fold(&[fetching]));
    }

    #[test]
    fn the_end_keeps_its_message() {
        let p = fold(&[AppEvent::Finished {
            ok: true,
            message: "@medplum/app 5.0.10 serves at https://app.example.com/".into(),
        }]);
        assert_eq!(p.phase, AppPhase::Done);
        assert_eq!(p.ratio(), 1.0);
        assert!(p.label().contains("serves at"));
    }
}
