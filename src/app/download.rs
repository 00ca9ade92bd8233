//! The tarball: streamed from the registry with a size cap and progress, or read from
//! `--app-tarball`; in both cases checked against the metadata's sha512 `dist.integrity`
//! before a single entry is read.

use base64::Engine;
use sha2::{Digest, Sha512};

use super::http::{HttpClient, registry_error};
use super::{AppError, Progress};
use crate::engine::Cancel;

/// `@medplum/app` is tens of megabytes; past this it is not the app.
pub const MAX_TARBALL: u64 = 256 * 1024 * 1024;

/// Downloads `url`, reporting progress, and checks it against `integrity`.
pub async fn fetch(
    http: &HttpClient,
    url: &str,
    integrity: &str,
    cancel: &Cancel,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<Vec<u8>, AppError> {
    let mut res = cancel
        .race(http.get(url, "application/octet-stream"))
        .await
        .ok_or(AppError::Interrupted)??;
    if res.status != 200 {
        return Err(registry_error(url, &format!("HTTP {}", res.status)));
    }
    if res.length.is_some_and(|n| n > MAX_TARBALL) {
        return Err(AppError::TooLarge {
            url: url.into(),
            limit: MAX_TARBALL,
        });
    }
    let total = res.length;
    let mut body = Vec::with_capacity(total.unwrap_or(0) as usize);
    let mut hasher = Sha512::new();
    progress(Progress::Download { received: 0, total });
    while let Some(chunk) = cancel
        .race(res.chunk())
        .await
        .ok_or(AppError::Interrupted)??
    {
        if body.len() as u64 + chunk.len() as u64 > MAX_TARBALL {
            return Err(AppError::TooLarge {
                url: url.into(),
                limit: MAX_TARBALL,
            });
        }
        hasher.update(&chunk);
        body.extend_from_slice(&chunk);
        progress(Progress::Download {
            received: body.len() as u64,
            total,
        });
    }
    check(&sri(hasher.finalize().as_slice()), integrity)?;
    Ok(body)
}

/// `sha512-<base64>` of `bytes`.
pub fn integrity_of(bytes: &[u8]) -> String {
    sri(Sha512::digest(bytes).as_slice())
}

fn sri(digest: &[u8]) -> String {
    format!(
        "sha512-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The same digest, or [`AppError::Integrity`].
pub fn check(actual: &str, expected: &str) -> Result<(), AppError> {
    if actual == expected {
        Ok(())
    } else {
        Err(AppError::Integrity {
            expected: expected.into(),
            actual: actual.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrity_is_npm_s_sri_format() {
        // `printf abc | openssl dgst -sha512 -binary | base64`
        assert_eq!(
            integrity_of(b"abc"),
            "sha512-3a81oZNherrMQXNJriBBMRLm+k6JqX6iCp7u5ktV05ohkpkqJ0/BqDa6PCOj/uu9RU1EI2Q86A4qmslPpUyknw=="
        );
        assert!(check(&integrity_of(b"abc"), &integrity_of(b"abd")).is_err());
    }
}
