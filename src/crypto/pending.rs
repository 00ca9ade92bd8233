//! A freshly generated key between its creation and its arrival in SSM.
//!
//! SSM cannot take the private key and its passphrase in one call, so a crash between the two
//! writes would lose the key whose passphrase is already stored. Until both writes are confirmed,
//! the pair waits in `.medplum-init/<env>/pending-signing-key.json`, mode 0600, and a re-run
//! resumes with the same key instead of making (and writing) another. The file is removed as soon
//! as SSM holds both halves.
//!
//! A key found there becomes the deployment's signing key, so the file is trusted only when it is
//! exactly what medplum-init left: a regular file (not a link) with one name, owned by the current
//! user, readable by nobody else, holding the key whose fingerprint the journal recorded *before*
//! the file was written. Anything else is refused, never used and never silently replaced.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::Secret;
use super::keypair::{KeyError, SigningKeyPair};
use crate::fsutil;

pub const FILE_NAME: &str = "pending-signing-key.json";

#[derive(Debug, thiserror::Error)]
pub enum PendingError {
    /// The file is there but is not one medplum-init can trust.
    #[error("the pending signing key {path} is refused: it {problem}")]
    Refused { path: PathBuf, problem: String },
    #[error("could not read the pending signing key {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Key(#[from] KeyError),
}

impl crate::error::Diagnostic for PendingError {
    fn outcome(&self) -> crate::outcome::Outcome {
        match self {
            PendingError::Refused { .. } => crate::outcome::Outcome::Invalid,
            _ => crate::outcome::Outcome::Failed,
        }
    }

    fn hint(&self) -> Option<String> {
        Some(self.fix())
    }
}

impl PendingError {
    /// What to do: the file is only a resume point, so removing it costs nothing that SSM or
    /// CloudFront already hold.
    pub fn fix(&self) -> String {
        let path = match self {
            PendingError::Refused { path, .. } | PendingError::Read { path, .. } => path.clone(),
            PendingError::Key(_) => PathBuf::from(FILE_NAME),
        };
        format!(
            "if you did not put it there, someone else may have: delete {} and re-run (a new key is generated; nothing in CloudFront uses the pending one yet)",
            path.display()
        )
    }
}

pub fn save(path: &Path, pair: &SigningKeyPair) -> std::io::Result<()> {
    let doc = json!({
        "private_key": pair.private_pem.expose(),
        "passphrase": pair.passphrase.expose(),
        "public_key": pair.public_pem,
    });
    let text = zeroize::Zeroizing::new(doc.to_string());
    fsutil::write_atomic(path, text.as_bytes(), 0o600)
}

/// The pending pair, if the file is there and can be trusted (see the module doc).
/// `recorded_fingerprint` is the journal's: a file with none recorded, or another, is refused.
pub fn load(
    path: &Path,
    recorded_fingerprint: Option<&str>,
) -> Result<Option<SigningKeyPair>, PendingError> {
    let refused = |problem: String| PendingError::Refused {
        path: path.to_path_buf(),
        problem,
    };
    let mut file = match fsutil::open_nofollow(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(_) if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) => {
            return Err(refused("is a symbolic link".into()));
        }
        Err(source) => {
            return Err(PendingError::Read {
                path: path.into(),
                source,
            });
        }
    };
    // Checked on the open file, so what is checked is what is read.
    let meta = file.metadata().map_err(|source| PendingError::Read {
        path: path.into(),
        source,
    })?;
    if !meta.is_file() {
        return Err(refused("is not a regular file".into()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if meta.uid() != fsutil::current_uid() {
            return Err(refused(format!(
                "belongs to user {}, not to you (user {})",
                meta.uid(),
                fsutil::current_uid()
            )));
        }
        let mode = meta.mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(refused(format!(
                "can be read or written by other users (mode {mode:o}, medplum-init writes 600)"
            )));
        }
        if meta.nlink() != 1 {
            return Err(refused(format!(
                "has {} hard links (medplum-init writes one)",
                meta.nlink()
            )));
        }
    }
    let mut text = zeroize::Zeroizing::new(String::new());
    std::io::Read::read_to_string(&mut file, &mut text).map_err(|source| PendingError::Read {
        path: path.into(),
        source,
    })?;
    let doc: Value = serde_json::from_str(&text)
        .map_err(|e| refused(format!("is not the JSON medplum-init writes ({e})")))?;
    let field = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_string);
    let (Some(private), Some(pass), Some(public)) = (
        field("private_key"),
        field("passphrase"),
        field("public_key"),
    ) else {
        return Err(refused("is incomplete".into()));
    };
    let pair = SigningKeyPair::from_parts(Secret::new(private), Secret::new(pass), &public)?;
    let fingerprint = pair.fingerprint();
    match recorded_fingerprint {
        None => Err(refused(
            "holds a key the journal never recorded (medplum-init records the fingerprint before it writes the file)".into(),
        )),
        Some(fp) if fp != fingerprint => Err(refused(format!(
            "holds the key {}, but the journal recorded {}",
            &fingerprint[..16.min(fingerprint.len())],
            &fp[..16.min(fp.len())]
        ))),
        Some(_) => Ok(Some(pair)),
    }
}

pub fn remove(path: &Path) {
    let _ = std::fs::remove_file(path);
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(unix)]
    use std::os::unix::fs::PermissionsExt;

    /// One key for the whole module: generation takes a while.
    fn pair() -> &'static SigningKeyPair {
        static PAIR: std::sync::OnceLock<SigningKeyPair> = std::sync::OnceLock::new();
        PAIR.get_or_init(|| SigningKeyPair::generate().unwrap())
    }

    fn saved() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        save(&path, pair()).unwrap();
        (dir, path)
    }

    fn refusal(r: Result<Option<SigningKeyPair>, PendingError>) -> String {
        match r {
            Err(e @ PendingError::Refused { .. }) => {
                assert!(e.fix().contains("delete"), "{}", e.fix());
                e.to_string()
            }
            Err(e) => panic!("refused for the wrong reason: {e}"),
            Ok(p) => panic!("trusted: {:?}", p.map(|p| p.fingerprint())),
        }
    }

    #[test]
    fn round_trip_with_private_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        assert!(load(&path, None).unwrap().is_none());
        let pair = pair();
        save(&path, pair).unwrap();
        #[cfg(unix)]
        {
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let back = load(&path, Some(&pair.fingerprint())).unwrap().unwrap();
        assert_eq!(back.fingerprint(), pair.fingerprint());
        assert!(back.passphrase == pair.passphrase);
        remove(&path);
        assert!(!path.exists());
    }

    #[test]
    fn a_key_the_journal_did_not_record_is_refused() {
        let (_dir, path) = saved();
        let msg = refusal(load(&path, None));
        assert!(msg.contains("never recorded"), "{msg}");
        let other = "ab".repeat(32);
        let msg = refusal(load(&path, Some(&other)));
        assert!(msg.contains("journal recorded abab"), "{msg}");
    }

    #[cfg(unix)]
    #[test]
    fn a_file_others_can_read_or_write_is_refused() {
        let fp = pair().fingerprint();
        for mode in [0o640, 0o604, 0o620, 0o666] {
            let (_dir, path) = saved();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let msg = refusal(load(&path, Some(&fp)));
            assert!(msg.contains("other users"), "{mode:o}: {msg}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_link_or_a_second_hard_link_is_refused() {
        let fp = pair().fingerprint();
        let (dir, real) = saved();
        let linked = dir.path().join("linked.json");
        std::os::unix::fs::symlink(&real, &linked).unwrap();
        let msg = refusal(load(&linked, Some(&fp)));
        assert!(msg.contains("symbolic link"), "{msg}");
        let hard = dir.path().join("hard.json");
        std::fs::hard_link(&real, &hard).unwrap();
        let msg = refusal(load(&real, Some(&fp)));
        assert!(msg.contains("2 hard links"), "{msg}");
    }

    #[cfg(unix)]
    #[test]
    fn a_file_of_another_user_is_refused() {
        // Only root can make a file another user owns; elsewhere /etc/passwd (root's) stands in.
        let fp = pair().fingerprint();
        if fsutil::current_uid() == 0 {
            let (_dir, path) = saved();
            std::os::unix::fs::chown(&path, Some(65534), None).unwrap();
            let msg = refusal(load(&path, Some(&fp)));
            assert!(msg.contains("belongs to user 65534"), "{msg}");
        } else {
            let msg = refusal(load(Path::new("/etc/passwd"), Some(&fp)));
            assert!(msg.contains("belongs to user 0"), "{msg}");
        }
    }
}
