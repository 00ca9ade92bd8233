//! The tar.gz, read in memory (nothing of it touches the disk): every entry is checked, and
//! only the files under `package/dist/` are kept, keyed by their path below it. An absolute
//! path, a `..` component, a link (symbolic or hard) or a device refuses the whole package, so a
//! hostile tarball cannot write or publish anything outside the app.

use std::io::Read;
use std::path::{Component, Path};

use super::AppError;

/// The site below this folder of the package is what is published.
pub const DIST: &str = "package/dist/";
/// More than this, unpacked, is not the app (and stops a gzip bomb).
pub const MAX_UNPACKED: u64 = 1024 * 1024 * 1024;

/// One file of the site: its path below `package/dist/` and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub path: String,
    pub body: Vec<u8>,
}

/// What the publish takes from the package.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Package {
    /// `version` of `package/package.json`, when it has one.
    pub version: Option<String>,
    /// The files of `package/dist/`, sorted by path.
    pub files: Vec<File>,
}

/// The package's site and version; every entry checked.
pub fn read(tgz: &[u8]) -> Result<Package, AppError> {
    let gz = flate2::read::GzDecoder::new(tgz);
    let mut archive = tar::Archive::new(gz.take(MAX_UNPACKED + 1));
    let mut files = Vec::new();
    let mut version = None;
    let mut unpacked = 0u64;
    let entries = archive.entries().map_err(corrupt)?;
    for entry in entries {
        let mut entry = entry.map_err(corrupt)?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        check_path(&raw)?;
        let kind = entry.header().entry_type();
        let unsafe_kind = match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous => None,
            tar::EntryType::Directory => continue,
            // Headers the reader consumes itself; anything left of them carries no file.
            tar::EntryType::XGlobalHeader => continue,
            tar::EntryType::Symlink => Some("a symbolic link"),
            tar::EntryType::Link => Some("a hard link"),
            tar::EntryType::Char | tar::EntryType::Block => Some("a device"),
            tar::EntryType::Fifo => Some("a FIFO"),
            _ => Some("not a regular file"),
        };
        if let Some(why) = unsafe_kind {
            return Err(AppError::UnsafeEntry { entry: raw, why });
        }
        let mut body = Vec::new();
        entry.read_to_end(&mut body).map_err(corrupt)?;
        unpacked += body.len() as u64;
        if unpacked > MAX_UNPACKED {
            return Err(AppError::Corrupt(format!(
                "more than {MAX_UNPACKED} bytes unpacked"
            )));
        }
        let path = raw.trim_start_matches("./");
        if path == "package/package.json" {
            version = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("version")?.as_str().map(str::to_string));
        }
        if let Some(rel) = path.strip_prefix(DIST)
            && !rel.is_empty()
        {
            files.push(File {
                path: rel.to_string(),
                body,
            });
        }
    }
    if !files.iter().any(|f| f.path == "index.html") {
        return Err(AppError::NoIndex);
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Package { version, files })
}

fn corrupt(e: std::io::Error) -> AppError {
    AppError::Corrupt(e.to_string())
}

/// No absolute path, no `..`, no Windows prefix or backslash trick.
fn check_path(raw: &str) -> Result<(), AppError> {
    let refuse = |why| {
        Err(AppError::UnsafeEntry {
            entry: raw.to_string(),
            why,
        })
    };
    if raw.starts_with('/') || raw.contains('\\') || raw.contains('\0') {
        return refuse("an absolute or malformed path");
    }
    for c in Path::new(raw).components() {
        match c {
            Component::ParentDir => return refuse("a `..` path"),
            Component::RootDir | Component::Prefix(_) => return refuse("an absolute path"),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A tar.gz of `(path, body)` regular files, and extra raw entries made by `extra`.
    pub fn tgz(files: &[(&str, &[u8])], extra: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, body) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(body.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, path, *body).unwrap();
        }
        extra(&mut b);
        let tar = b.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &tar).unwrap();
        gz.finish().unwrap()
    }

    /// A raw header with a name the builder would refuse (`..`, absolute).
    fn raw_entry(b: &mut tar::Builder<Vec<u8>>, name: &str, kind: tar::EntryType, link: &str) {
        let mut h = tar::Header::new_old();
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        h.set_size(0);
        h.set_mode(0o644);
        h.set_entry_type(kind);
        h.set_cksum();
        b.append(&h, std::io::empty()).unwrap();
    }

    const INDEX: (&str, &[u8]) = ("package/dist/index.html", b"<html></html>");

    #[test]
    fn only_dist_is_kept() {
        let t = tgz(
            &[
                ("package/package.json", br#"{"version":"5.0.10"}"#),
                INDEX,
                ("package/dist/assets/index-abc.js", b"x"),
            ],
            |_| {},
        );
        let p = read(&t).unwrap();
        assert_eq!(p.version.as_deref(), Some("5.0.10"));
        let paths: Vec<&str> = p.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["assets/index-abc.js", "index.html"]);
    }

    #[test]
    fn unsafe_entries_refuse_the_package() {
        for (name, kind, link, why) in [
            (
                "package/dist/../../etc/x",
                tar::EntryType::Regular,
                "",
                "`..`",
            ),
            ("/etc/passwd", tar::EntryType::Regular, "", "absolute"),
            (
                "package/dist/evil",
                tar::EntryType::Symlink,
                "/etc/passwd",
                "symbolic",
            ),
            (
                "package/dist/hard",
                tar::EntryType::Link,
                "package/dist/index.html",
                "hard",
            ),
            ("package/dist/dev", tar::EntryType::Char, "", "device"),
        ] {
            let t = tgz(&[INDEX], |b| raw_entry(b, name, kind, link));
            let err = read(&t).unwrap_err();
            assert!(
                matches!(&err, AppError::UnsafeEntry { entry, .. } if entry == name),
                "{name}: {err}"
            );
            assert!(err.to_string().contains(why), "{err}");
        }
    }

    #[test]
    fn a_package_without_an_index_or_not_gzip_is_refused() {
        let t = tgz(&[("package/dist/a.js", b"x")], |_| {});
        assert!(matches!(read(&t), Err(AppError::NoIndex)));
        assert!(matches!(read(b"not gzip"), Err(AppError::Corrupt(_))));
    }
}
