//! Which `@medplum/app` to publish, and where its tarball is: the registry's metadata for one
//! version (`<registry>/@medplum/app/<version>`; `latest` is resolved by the registry to a
//! concrete version). The version is `--app-version`, else the server image's tag when the tag
//! is a version (so the app matches the server), else `latest`.

use serde::Deserialize;

use super::http::{HttpClient, registry_error};
use super::{AppError, PACKAGE};

/// Metadata is small (one version's manifest); anything bigger is not a manifest.
const MAX_METADATA: u64 = 8 * 1024 * 1024;

/// What to ask the registry for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    Version(String),
    Latest,
}

impl Wanted {
    /// `--app-version`, else the server image's version tag, else `latest`.
    pub fn choose(app_version: Option<&str>, server_image: &str) -> Self {
        match app_version {
            Some(v) if v != "latest" => Wanted::Version(v.trim_start_matches('v').to_string()),
            Some(_) => Wanted::Latest,
            None => image_version(server_image).map_or(Wanted::Latest, Wanted::Version),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Wanted::Version(v) => v,
            Wanted::Latest => "latest",
        }
    }
}

/// One version of the package, as the registry describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub version: String,
    pub tarball: String,
    /// `sha512-<base64>` (Subresource Integrity).
    pub integrity: String,
}

#[derive(Deserialize)]
struct Manifest {
    version: String,
    dist: Dist,
}

#[derive(Deserialize)]
struct Dist {
    tarball: String,
    #[serde(default)]
    integrity: Option<String>,
}

/// `medplum/medplum-server:5.0.10` → `5.0.10`; `latest`, a digest or no tag → `None`.
pub fn image_version(image: &str) -> Option<String> {
    let image = image.split('@').next()?;
    let (_, tag) = image.rsplit_once(':')?;
    // `host:port/repo` has a colon but no tag.
    if tag.contains('/') {
        return None;
    }
    let tag = tag.strip_prefix('v').unwrap_or(tag);
    let core = tag.split(['-', '+']).next()?;
    let parts: Vec<&str> = core.split('.').collect();
    (parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())))
    .then(|| tag.to_string())
}

/// The metadata URL of `wanted` on `registry`.
pub fn metadata_url(registry: &str, wanted: &Wanted) -> String {
    format!(
        "{}/{PACKAGE}/{}",
        registry.trim_end_matches('/'),
        wanted.as_str()
    )
}

/// Reads one version's metadata from the registry.
pub async fn resolve(
    http: &HttpClient,
    registry: &str,
    wanted: &Wanted,
) -> Result<Release, AppError> {
    let url = metadata_url(registry, wanted);
    let res = http.get(&url, "application/json").await?;
    match res.status {
        200 => {}
        404 => {
            return Err(AppError::NoSuchVersion {
                package: PACKAGE.into(),
                version: wanted.as_str().into(),
                registry: registry.into(),
            });
        }
        s => return Err(registry_error(&url, &format!("HTTP {s}"))),
    }
    let body = res.bytes(MAX_METADATA).await?;
    parse(&url, &body)
}

fn parse(url: &str, body: &[u8]) -> Result<Release, AppError> {
    let m: Manifest = serde_json::from_slice(body)
        .map_err(|e| registry_error(url, &format!("not a package manifest: {e}")))?;
    let integrity = m
        .dist
        .integrity
        .as_deref()
        .and_then(sha512_of)
        .ok_or_else(|| AppError::NoIntegrity(format!("{PACKAGE}@{}", m.version)))?;
    Ok(Release {
        version: m.version,
        tarball: m.dist.tarball,
        integrity,
    })
}

/// The `sha512-...` entry of an SRI string (it may list several hashes).
pub fn sha512_of(sri: &str) -> Option<String> {
    sri.split_whitespace()
        .find(|s| s.starts_with("sha512-"))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_comes_from_the_flag_then_the_server_image() {
        let img = "medplum/medplum-server:5.0.10";
        assert_eq!(
            Wanted::choose(Some("4.1.0"), img),
            Wanted::Version("4.1.0".into())
        );
        assert_eq!(Wanted::choose(Some("latest"), img), Wanted::Latest);
        assert_eq!(Wanted::choose(None, img), Wanted::Version("5.0.10".into()));
        assert_eq!(
            Wanted::choose(None, "medplum/medplum-server:latest"),
            Wanted::Latest
        );
        assert_eq!(
            Wanted::choose(None, "medplum/medplum-server"),
            Wanted::Latest
        );
    }

    #[test]
    fn image_tags_that_are_versions() {
        assert_eq!(image_version("m/s:5.0.10").as_deref(), Some("5.0.10"));
        assert_eq!(image_version("m/s:v5.0.10").as_deref(), Some("5.0.10"));
        assert_eq!(
            image_version("m/s:5.1.0-beta.1").as_deref(),
            Some("5.1.0-beta.1")
        );
        assert_eq!(image_version("reg:5000/m/s"), None);
        assert_eq!(image_version("m/s:5.0"), None);
        assert_eq!(
            image_version("m/s:5.0.10@sha256:ab").as_deref(),
            Some("5.0.10")
        );
        assert_eq!(image_version("m/s@sha256:ab"), None);
    }

    #[test]
    fn metadata_needs_a_sha512_integrity() {
        let ok = br#"{"name":"@medplum/app","version":"5.0.10","dist":{"tarball":"https://r/app-5.0.10.tgz","integrity":"sha1-x sha512-abc=","shasum":"x"}}"#;
        let r = parse("u", ok).unwrap();
        assert_eq!(r.version, "5.0.10");
        assert_eq!(r.integrity, "sha512-abc=");
        let old = br#"{"version":"1.0.0","dist":{"tarball":"t","shasum":"x"}}"#;
        assert!(matches!(parse("u", old), Err(AppError::NoIntegrity(_))));
        assert!(matches!(
            parse("u", b"<html>"),
            Err(AppError::Registry { .. })
        ));
    }

    #[test]
    fn the_metadata_url_of_a_scoped_package() {
        assert_eq!(
            metadata_url("https://registry.npmjs.org/", &Wanted::Latest),
            "https://registry.npmjs.org/@medplum/app/latest"
        );
    }
}
