//! The journal reader (`src/engine/journal.rs`): arbitrary bytes, valid journals cut short at any
//! byte (a disk that filled, a copy that stopped), huge records, and random well-formed states
//! read back. Never a panic; a journal that cannot be used is refused loudly (never read as
//! empty, which would forget a recorded CallerReference) with a terminal-safe message that
//! names the file, and a hint when it is damaged; a well-formed journal reads back unchanged.

use std::collections::BTreeMap;
use std::path::Path;

use medplum_init::engine::journal::{State, StepRecord, prepare_state_dir};
use medplum_init::engine::{Journal, JournalError, StepId, StepStatus};
use medplum_init::error::Diagnostic;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::Value;

use crate::{DEFAULT_CASES, fuzz, replay, unsafe_for_terminal};

const ENV: &str = "fuzz";

/// What a step might record; a journal holding something else for a step is refused by `data`.
#[derive(Debug, serde::Deserialize)]
#[allow(dead_code)]
struct Probe {
    caller_reference: String,
}

fn plant(dir: &Path, bytes: &[u8]) {
    let sdir = prepare_state_dir(dir, ENV).expect("state folder");
    crate::write(&sdir, "state.json", bytes);
}

fn check_error(e: &JournalError) -> Result<(), TestCaseError> {
    let msg = e.to_string();
    prop_assert!(
        !matches!(e, JournalError::Read { .. } | JournalError::Write { .. }),
        "the journal's content was reported as an I/O failure: {}",
        msg
    );
    prop_assert!(msg.contains("state.json"), "the file is not named: {}", msg);
    prop_assert!(
        !msg.chars().any(unsafe_for_terminal),
        "unescaped: {:?}",
        msg
    );
    prop_assert!(msg.chars().count() < 2000, "uncut: {} chars", msg.len());
    if matches!(e, JournalError::Parse { .. } | JournalError::Record { .. }) {
        prop_assert!(e.hint().is_some(), "no hint: {}", msg);
    }
    prop_assert!(matches!(e.exit_code(), 1 | 2));
    Ok(())
}

/// Reads the planted journal both ways; returns the state when it was accepted.
fn check_read(dir: &Path) -> Result<Option<State>, TestCaseError> {
    let ro = Journal::read_only(dir, ENV);
    let rw = Journal::open(dir, ENV);
    prop_assert_eq!(
        ro.is_ok(),
        rw.is_ok(),
        "read-only and locked reads disagree"
    );
    match ro {
        Ok(j) => {
            for step in StepId::ALL {
                let _ = j.status(step);
                prop_assert!(j.data::<Value>(step).is_ok());
                if let Err(e) = j.data::<Probe>(step) {
                    prop_assert!(matches!(e, JournalError::Record { .. }), "{}", e);
                    check_error(&e)?;
                }
            }
            let _ = j.extra::<Probe>("deploy");
            Ok(Some(j.snapshot()))
        }
        Err(e) => {
            check_error(&e)?;
            Ok(None)
        }
    }
}

fn check_bytes(bytes: &[u8]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    plant(dir.path(), bytes);
    check_read(dir.path()).map(|_| ())
}

fn json_value() -> impl Strategy<Value = Value> {
    // No floats: serde_json does not promise to read back every float bit for bit.
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        crate::answers::tricky_string().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((".{0,12}", inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn state() -> impl Strategy<Value = State> {
    let status = prop::sample::select(vec![
        StepStatus::Pending,
        StepStatus::InProgress,
        StepStatus::Done,
        StepStatus::Skipped,
        StepStatus::Failed,
    ]);
    let record =
        (status, prop::option::of(".{0,30}"), json_value()).prop_map(|(status, updated, data)| {
            StepRecord {
                status,
                updated,
                data,
            }
        });
    (
        0u32..=1,
        prop::collection::btree_map(prop::sample::select(StepId::ALL.to_vec()), record, 0..8),
        prop::collection::btree_map(".{0,16}", json_value(), 0..4),
    )
        .prop_map(
            |(version, steps, extra): (_, BTreeMap<_, _>, BTreeMap<_, _>)| State {
                version,
                env: ENV.into(),
                steps,
                extra,
            },
        )
}

fn text(s: &State) -> String {
    let mut t = serde_json::to_string_pretty(s).unwrap();
    t.push('\n');
    t
}

#[test]
fn journal_corpus() {
    replay("journal", |_, bytes| check_bytes(bytes));
}

#[test]
fn journal_generated_seeds() {
    // Too big to keep as files: a huge record, deep nesting, a long line of junk.
    let huge = format!(
        "{{\"version\":1,\"env\":\"fuzz\",\"steps\":{{\"certificates\":{{\"status\":\"done\",\"data\":{{\"caller_reference\":\"{}\"}}}}}}}}",
        "r".repeat(8 << 20)
    );
    let deep = format!(
        "{{\"version\":1,\"env\":\"fuzz\",\"extra\":{{\"x\":{}{}}}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let junk = "\u{1b}[2J".repeat(100_000);
    for t in [huge, deep, junk] {
        check_bytes(t.as_bytes()).unwrap();
    }
}

#[test]
fn journal_arbitrary_bytes() {
    fuzz(
        "journal",
        "bytes",
        DEFAULT_CASES,
        prop::collection::vec(any::<u8>(), 0..256),
        |b| check_bytes(&b),
    );
}

#[test]
fn journal_round_trips() {
    fuzz("journal", "round-trip", DEFAULT_CASES, state(), |s| {
        let dir = tempfile::tempdir().unwrap();
        plant(dir.path(), text(&s).as_bytes());
        let read = check_read(dir.path())?;
        prop_assert!(read.is_some(), "a well-formed journal was refused");
        prop_assert_eq!(text(&read.unwrap()), text(&s));
        Ok(())
    });
}

#[test]
fn journal_cut_short() {
    let cut = (state(), any::<prop::sample::Index>(), 0usize..4);
    fuzz(
        "journal",
        "cut-short",
        DEFAULT_CASES,
        cut,
        |(s, at, junk)| {
            let full = text(&s);
            let n = at.index(full.len());
            let mut bytes = full.as_bytes()[..n].to_vec();
            // Sometimes what a half-written block leaves after the cut: zeros, garbage, blanks.
            bytes.extend(std::iter::repeat_n([0u8, 0xff, b' ', b'\n'][junk], junk));
            let dir = tempfile::tempdir().unwrap();
            plant(dir.path(), &bytes);
            let read = check_read(dir.path())?;
            // Only a cut in the trailing newline leaves the whole journal.
            if read.is_some() {
                let read_text = String::from_utf8_lossy(&bytes);
                prop_assert_eq!(
                    read_text.trim_end_matches(['\n', '\0']).trim(),
                    full.trim(),
                    "a damaged journal read as a different state"
                );
            }
            Ok(())
        },
    );
}
