//! File-system helpers for every file medplum-init writes or reads as its own (the config file,
//! the journal, the pending key, the logs):
//!
//! * atomic writes: an unguessable temporary name in the target folder, created exclusively
//!   (`O_CREAT|O_EXCL|O_NOFOLLOW`) with its mode from the first instant, fsync, rename, fsync of
//!   the folder;
//! * reads and appends that refuse a symbolic link instead of following it, so a link planted at
//!   one of our paths can neither redirect a write nor feed us someone else's file;
//! * the private state folder (`.medplum-init/`, `.medplum-init/<env>/`): created 0700, refused
//!   when another user owns it or others may write to it, with a `.gitignore` so `git add .` never
//!   commits a key or the journal.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// Extra open flags: never follow a link at the final component, never leak the fd to children.
#[cfg(unix)]
const NOFOLLOW: i32 = libc::O_NOFOLLOW | libc::O_CLOEXEC;

/// An error whose message says what is wrong with `path` and what to do about it.
fn refused(path: &Path, problem: &str, fix: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!("{} {problem}; {fix}", path.display()),
    )
}

fn symlink_refused(path: &Path) -> io::Error {
    refused(
        path,
        "is a symbolic link, and medplum-init never follows a link at a file of its own",
        "replace the link with a regular file (or remove it) and re-run",
    )
}

/// `ELOOP` from an `O_NOFOLLOW` open means the final component is a link: say so in words.
fn explain_open_error(path: &Path, e: io::Error) -> io::Error {
    #[cfg(unix)]
    {
        if e.raw_os_error() == Some(libc::ELOOP) {
            return symlink_refused(path);
        }
    }
    let _ = path;
    e
}

/// Refuses `path` when it is a symbolic link (a missing path is fine).
pub fn refuse_symlink(path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(symlink_refused(path)),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// The effective user id, whose files and folders medplum-init trusts.
#[cfg(unix)]
pub fn current_uid() -> u32 {
    // SAFETY: geteuid takes no arguments, cannot fail and touches no memory of ours.
    unsafe { libc::geteuid() }
}

/// A temporary name nobody can predict, so nobody can plant a link (or a file) there first.
fn temp_name(file_name: &str) -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(".{file_name}.{hex}.tmp")
}

/// Writes `bytes` to `path` so that a reader (or a crash) sees the old file or the new one, never
/// half of either. The temporary file is created exclusively under an unguessable name with
/// `mode` from the start (the umask can only narrow it, and the exact mode is then set on the
/// open file, an error if that fails), so a secret file is never readable by others, even
/// briefly. A symbolic link at `path` is refused, not replaced or followed.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    refuse_symlink(path)?;
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let (tmp, mut f) = create_temp(dir, file_name, mode)?;
    let written = (|| {
        #[cfg(unix)]
        {
            // On the open file, not the path: nothing can swap the file under us.
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(dir)
}

fn create_temp(dir: &Path, file_name: &str, mode: u32) -> io::Result<(std::path::PathBuf, File)> {
    let mut last = None;
    // A clash of 96 random bits means someone is guessing; a few tries, then give up loudly.
    for _ in 0..4 {
        let tmp = dir.join(temp_name(file_name));
        let mut opts = OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(mode).custom_flags(NOFOLLOW);
        }
        #[cfg(not(unix))]
        let _ = mode;
        match opts.open(&tmp) {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.expect("at least one attempt"))
}

/// Makes a rename durable. Some file systems cannot fsync a folder; that is not a failure.
fn sync_dir(dir: &Path) -> io::Result<()> {
    let d = File::open(dir)?;
    match d.sync_all() {
        Ok(()) => Ok(()),
        #[cfg(unix)]
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOTSUP)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Opens one of our own files for reading without following a link at its path. Non-blocking,
/// so a FIFO planted there cannot hang the run (it fails the caller's regular-file check).
pub fn open_nofollow(path: &Path) -> io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(NOFOLLOW | libc::O_NONBLOCK);
    }
    opts.open(path).map_err(|e| explain_open_error(path, e))
}

/// Reads one of our own files as text; `None` when it does not exist. A link is refused.
pub fn read_to_string_nofollow(path: &Path) -> io::Result<Option<String>> {
    match read_nofollow(path)? {
        Some(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)),
        None => Ok(None),
    }
}

/// Reads one of our own files; `None` when it does not exist. A link is refused. For JSON files:
/// their parser reports bytes that are not UTF-8 with a line and column, as damage to fix, where
/// a failed text read would look like a failing disk.
pub fn read_nofollow(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match open_nofollow(path) {
        Ok(mut f) => {
            if !f.metadata()?.is_file() {
                return Err(refused(
                    path,
                    "is not a regular file",
                    "move it aside and re-run",
                ));
            }
            let mut b = Vec::new();
            io::Read::read_to_end(&mut f, &mut b)?;
            Ok(Some(b))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Opens (creating it `mode`) a file of ours for appending, refusing a link at its path.
pub fn open_append_private(path: &Path, mode: u32) -> io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode).custom_flags(NOFOLLOW);
    }
    let f = opts.open(path).map_err(|e| explain_open_error(path, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let m = f.metadata()?;
        if m.uid() != current_uid() {
            return Err(refused(
                path,
                "belongs to another user",
                "remove it and re-run",
            ));
        }
        // An older run (or a umask) may have left it wider: narrow it on the open file, and
        // fail rather than carry on if that is refused.
        if m.mode() & 0o777 & !mode != 0 {
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
    }
    Ok(f)
}

/// Creates `path` as a private folder (0700), or checks the one that is there: it must be a real
/// folder (not a link), owned by the current user, and writable by nobody else. One that others
/// can read is narrowed to 0700; a failure to do so is an error, not a shrug.
pub fn ensure_private_dir(path: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    match builder.create(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let m = std::fs::symlink_metadata(path)?;
    if m.file_type().is_symlink() {
        return Err(refused(
            path,
            "is a symbolic link, and medplum-init keeps its state only in a folder of its own",
            "replace the link with a real folder (or remove it) and re-run",
        ));
    }
    if !m.is_dir() {
        return Err(refused(path, "is not a folder", "move it aside and re-run"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        if m.uid() != current_uid() {
            return Err(refused(
                path,
                &format!(
                    "belongs to user {}, not to you (user {})",
                    m.uid(),
                    current_uid()
                ),
                "run medplum-init as the folder's owner, or move the folder aside and re-run",
            ));
        }
        let bits = m.mode() & 0o777;
        if bits & 0o022 != 0 {
            return Err(refused(
                path,
                &format!("is writable by other users (mode {bits:o}), who could plant files in it"),
                &format!("run chmod 700 {} and re-run", path.display()),
            ));
        }
        if bits != 0o700 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
        }
    }
    Ok(())
}

/// Writes `<state root>/.gitignore` holding `*` unless one is there, so the state folder (the
/// journal, a pending key) never lands in a commit of the folder around it.
pub fn ensure_gitignore(state_root: &Path) -> io::Result<()> {
    let path = state_root.join(".gitignore");
    match std::fs::symlink_metadata(&path) {
        Ok(m) if m.file_type().is_symlink() => Err(symlink_refused(&path)),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => write_atomic(
            &path,
            b"# medplum-init's state: the journal and, briefly, a private key. Never commit it.\n*\n",
            0o644,
        ),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(unix)]
    use std::os::unix::fs::PermissionsExt;

    #[cfg(unix)]
    fn mode_of(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn writes_with_the_given_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/x.json");
        write_atomic(&p, b"{}", 0o600).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"{}");
        #[cfg(unix)]
        assert_eq!(mode_of(&p), 0o600);
        write_atomic(&p, b"[]", 0o600).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"[]");
        assert_eq!(
            std::fs::read_dir(p.parent().unwrap()).unwrap().count(),
            1,
            "no temp file left"
        );
    }

    #[test]
    fn temp_names_are_not_predictable() {
        let a = temp_name("state.json");
        let b = temp_name("state.json");
        assert_ne!(a, b);
        assert!(a.starts_with(".state.json.") && a.ends_with(".tmp"), "{a}");
    }

    #[cfg(unix)]
    #[test]
    fn a_link_at_the_old_predictable_temp_name_is_never_touched() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        let old_tmp = dir
            .path()
            .join(format!(".x.json.tmp.{}", std::process::id()));
        std::os::unix::fs::symlink(&victim, &old_tmp).unwrap();
        let p = dir.path().join("x.json");
        write_atomic(&p, b"new", 0o600).unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
        assert!(
            std::fs::symlink_metadata(&old_tmp)
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_link_at_the_target_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        let p = dir.path().join("state.json");
        std::os::unix::fs::symlink(&victim, &p).unwrap();
        let e = write_atomic(&p, b"new", 0o600).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        let e = read_to_string_nofollow(&p).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        let e = open_append_private(&p, 0o600).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            2,
            "no temp file left"
        );
    }

    #[test]
    fn reading_a_missing_file_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            read_to_string_nofollow(&dir.path().join("no")).unwrap(),
            None
        );
    }

    #[cfg(unix)]
    #[test]
    fn private_dirs_are_made_0700_and_a_group_writable_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(".medplum-init");
        ensure_private_dir(&p).unwrap();
        assert_eq!(mode_of(&p), 0o700);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        ensure_private_dir(&p).unwrap();
        assert_eq!(mode_of(&p), 0o700, "a readable one is narrowed");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o770)).unwrap();
        let e = ensure_private_dir(&p).unwrap_err();
        assert!(e.to_string().contains("writable by other users"), "{e}");
        assert_eq!(mode_of(&p), 0o770, "a refused folder is left as it is");
    }

    #[cfg(unix)]
    #[test]
    fn a_linked_state_dir_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        let p = dir.path().join(".medplum-init");
        std::os::unix::fs::symlink(&elsewhere, &p).unwrap();
        let e = ensure_private_dir(&p).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
    }

    #[test]
    fn the_gitignore_ignores_everything_and_is_kept_once_there() {
        let dir = tempfile::tempdir().unwrap();
        ensure_gitignore(dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join(".gitignore")).unwrap();
        assert!(text.lines().any(|l| l == "*"), "{text}");
        std::fs::write(dir.path().join(".gitignore"), "*\n!keep\n").unwrap();
        ensure_gitignore(dir.path()).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join(".gitignore")).unwrap(),
            "*\n!keep\n"
        );
    }
}
