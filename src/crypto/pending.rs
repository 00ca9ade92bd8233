//! A freshly generated key between its creation and its arrival in SSM.
//!
//! SSM cannot take the private key and its passphrase in one call, so a crash between the two
//! writes would lose the key whose passphrase is already stored. Until both writes are confirmed,
//! the pair waits in `.medplum-init/<env>/pending-signing-key.json`, mode 0600, and a re-run
//! resumes with the same key instead of making (and writing) another. The file is removed as soon
//! as SSM holds both halves.

use std::path::Path;

use serde_json::{Value, json};

use super::Secret;
use super::keypair::{KeyError, SigningKeyPair};
use crate::fsutil;

pub const FILE_NAME: &str = "pending-signing-key.json";

pub fn save(path: &Path, pair: &SigningKeyPair) -> std::io::Result<()> {
    let doc = json!({
        "private_key": pair.private_pem.expose(),
        "passphrase": pair.passphrase.expose(),
        "public_key": pair.public_pem,
    });
    let text = zeroize::Zeroizing::new(doc.to_string());
    fsutil::write_atomic(path, text.as_bytes(), 0o600)
}

/// The pending pair, if the file is there and its halves belong together.
pub fn load(path: &Path) -> Result<Option<SigningKeyPair>, KeyError> {
    let Ok(text) = std::fs::read_to_string(path).map(zeroize::Zeroizing::new) else {
        return Ok(None);
    };
    let doc: Value = serde_json::from_str(&text)
        .map_err(|e| KeyError::Decrypt(format!("{}: {e}", path.display())))?;
    let field = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_string);
    let (Some(private), Some(pass), Some(public)) = (
        field("private_key"),
        field("passphrase"),
        field("public_key"),
    ) else {
        return Err(KeyError::Decrypt(format!(
            "{} is incomplete",
            path.display()
        )));
    };
    SigningKeyPair::from_parts(Secret::new(private), Secret::new(pass), &public).map(Some)
}

pub fn remove(path: &Path) {
    let _ = std::fs::remove_file(path);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_private_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        assert!(load(&path).unwrap().is_none());
        let pair = SigningKeyPair::generate().unwrap();
        save(&path, &pair).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let back = load(&path).unwrap().unwrap();
        assert_eq!(back.fingerprint(), pair.fingerprint());
        assert!(back.passphrase == pair.passphrase);
        remove(&path);
        assert!(!path.exists());
    }
}
