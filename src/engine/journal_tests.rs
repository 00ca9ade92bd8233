use super::*;
use crate::error::Diagnostic;

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
        j.data::<Rec>(StepId::SigningKey).unwrap(),
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

#[test]
fn a_record_that_does_not_parse_is_refused_not_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let sdir = prepare_state_dir(dir.path(), "staging").unwrap();
    // The shape a step recorded, damaged by hand: `n` is no longer a number.
    let text = r#"{"version":1,"env":"staging","steps":{"signing_key":{"status":"done","data":{"id":"K1","n":"x"}}}}"#;
    std::fs::write(sdir.join("state.json"), text).unwrap();
    let j = Journal::open(dir.path(), "staging").unwrap();
    let e = j.data::<Rec>(StepId::SigningKey).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("state.json") && msg.contains("signing_key"),
        "{msg}"
    );
    assert!(e.hint().unwrap().contains("will not guess"));
    // An update must not replace the record with a default either.
    assert!(j.update::<Rec, _>(StepId::SigningKey, |r| r.n = 1).is_err());
    assert_eq!(
        std::fs::read_to_string(sdir.join("state.json")).unwrap(),
        text
    );
    let ro = Journal::read_only(dir.path(), "staging").unwrap();
    assert!(
        ro.data::<Rec>(StepId::SigningKey)
            .unwrap_err()
            .to_string()
            .contains("state.json")
    );
}

#[test]
fn a_truncated_journal_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let sdir = prepare_state_dir(dir.path(), "staging").unwrap();
    std::fs::write(
        sdir.join("state.json"),
        r#"{"version":1,"env":"staging","steps":{"cert"#,
    )
    .unwrap();
    let e = Journal::open(dir.path(), "staging").unwrap_err();
    assert!(matches!(e, JournalError::Parse { .. }), "{e}");
    assert!(Journal::read_only(dir.path(), "staging").is_err());
}

#[test]
fn opening_removes_the_drafts_a_killed_run_left_and_only_those() {
    let dir = tempfile::tempdir().unwrap();
    let sdir = prepare_state_dir(dir.path(), "staging").unwrap();
    // Names as fsutil's temp files have them, written an hour before this process began.
    let draft = |folder: &Path, file: &str| {
        let p = folder.join(format!(".{file}.0123456789abcdef01234567.tmp"));
        let f = std::fs::File::create(&p).unwrap();
        f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(3600))
            .unwrap();
        p
    };
    let gone = [
        draft(sdir.as_path(), "state.json"),
        draft(sdir.as_path(), crate::crypto::pending::FILE_NAME),
        draft(dir.path().join(STATE_DIR).as_path(), ".gitignore"),
        draft(dir.path(), "medplum.staging.config.json"),
    ];
    let kept = [
        // Another environment's config file: its own run (its own lock) may be writing it.
        draft(dir.path(), "medplum.prod.config.json"),
        // Not our naming.
        {
            let p = sdir.join(".state.json.tmp.77");
            std::fs::write(&p, "x").unwrap();
            p
        },
    ];
    drop(Journal::open(dir.path(), "staging").unwrap());
    for p in &gone {
        assert!(!p.exists(), "{} left behind", p.display());
    }
    for p in &kept {
        assert!(p.exists(), "{} removed", p.display());
    }
}

#[test]
fn an_env_that_is_not_a_plain_name_never_names_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    for env in ["../../x", "a/b", "a\0b", "x\u{1b}[2J", ""] {
        assert!(
            matches!(
                Journal::open(dir.path(), env),
                Err(JournalError::BadEnv { .. })
            ),
            "{env:?}"
        );
        assert!(matches!(
            Journal::read_only(dir.path(), env),
            Err(JournalError::BadEnv { .. })
        ));
    }
    assert!(!dir.path().join(STATE_DIR).exists());
}

#[cfg(unix)]
#[test]
fn the_state_folder_is_private_ignored_by_git_and_refused_when_others_can_write() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    drop(Journal::open(dir.path(), "staging").unwrap());
    let root = dir.path().join(STATE_DIR);
    for d in [&root, &state_dir(dir.path(), "staging")] {
        assert_eq!(
            std::fs::metadata(d).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }
    assert_eq!(
        std::fs::read_to_string(root.join(".gitignore"))
            .unwrap()
            .lines()
            .last(),
        Some("*")
    );
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o777)).unwrap();
    let e = Journal::open(dir.path(), "staging").unwrap_err();
    assert!(matches!(e, JournalError::StateDir { .. }), "{e}");
    assert!(e.to_string().contains("writable by other users"), "{e}");
}

#[cfg(unix)]
#[test]
fn a_linked_journal_is_refused_and_its_target_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let sdir = prepare_state_dir(dir.path(), "staging").unwrap();
    let victim = dir.path().join("victim.json");
    let text = r#"{"version":1,"env":"staging","steps":{}}"#;
    std::fs::write(&victim, text).unwrap();
    std::os::unix::fs::symlink(&victim, sdir.join("state.json")).unwrap();
    let e = Journal::open(dir.path(), "staging").unwrap_err();
    assert!(e.to_string().contains("symbolic link"), "{e}");
    assert!(Journal::read_only(dir.path(), "staging").is_err());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), text);
}
