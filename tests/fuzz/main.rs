//! Property-based fuzzing (proptest) of everything that reads input a user or an attacker with
//! write access to the working folder controls. One module per product module it exercises:
//!
//! * `answers`: the answers parser and validators (`src/answers/`);
//! * `config`: the config-file reader and external-secret resolution (`src/config/infra.rs`);
//! * `journal`: the journal reader (`src/engine/journal.rs`);
//! * `synth`: template synthesis from arbitrary valid configs (`src/deploy/synth/`).
//!
//! Every target first replays its corpus, `tests/fuzz/corpus/<target>/*` (seed inputs and every
//! input that once found a bug), then runs generated cases from a fixed seed, so a CI failure
//! reproduces on any machine. `MEDPLUM_FUZZ_CASES` sets the number of generated cases per
//! property (default [`DEFAULT_CASES`], a few seconds per target), `MEDPLUM_FUZZ_SEED` another
//! seed for a long run. A failing case is shrunk, printed and its seed persisted in
//! `tests/fuzz/regressions/<target>.txt`, replayed first by later runs; add the printed input to
//! the corpus when fixing the bug. See docs/testing.md ("Fuzzing").
//!
//! Only the library's public API is used: the same entry points the binary reads files through.

mod answers;
mod config;
mod journal;
mod synth;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use proptest::strategy::Strategy;
use proptest::test_runner::{
    Config, FileFailurePersistence, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner,
};

/// Generated cases per property when `MEDPLUM_FUZZ_CASES` is not set: keeps each target to a few
/// seconds of `cargo test` on the project machine.
pub const DEFAULT_CASES: u32 = 256;

/// The seed of CI runs: fixed, so a failure in CI is the same failure on a laptop.
const DEFAULT_SEED: u64 = 0x6d65_6470_6c75_6d21;

/// `MEDPLUM_FUZZ_CASES`, or `default` (a property that is slow per case asks for fewer).
pub fn cases(default: u32) -> u32 {
    match std::env::var("MEDPLUM_FUZZ_CASES") {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("MEDPLUM_FUZZ_CASES={v:?} is not a number of cases")),
        Err(_) => default,
    }
}

fn seed() -> u64 {
    match std::env::var("MEDPLUM_FUZZ_SEED") {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("MEDPLUM_FUZZ_SEED={v:?} is not a u64")),
        Err(_) => DEFAULT_SEED,
    }
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A deterministic runner for one property of `target`, persisting failures beside the corpus.
fn runner(target: &str, property: &str, default_cases: u32) -> TestRunner {
    let file: &'static str = Box::leak(
        root()
            .join("tests/fuzz/regressions")
            .join(format!("{target}.txt"))
            .display()
            .to_string()
            .into_boxed_str(),
    );
    let config = Config {
        cases: cases(default_cases),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(file))),
        rng_algorithm: RngAlgorithm::ChaCha,
        // Hostile inputs are rejected, not filtered: a strategy that needs many rejects is wrong.
        max_global_rejects: 4096,
        ..Config::default()
    };
    // One stream per property, so adding a property does not change the cases of the others.
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed().to_le_bytes());
    for (i, b) in property.bytes().enumerate() {
        bytes[8 + i % 24] ^= b;
    }
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
}

/// Runs `test` on generated inputs; a failure panics with the shrunk input.
pub fn fuzz<S>(
    target: &str,
    property: &str,
    default_cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S: Strategy,
    S::Value: std::fmt::Debug,
{
    let mut runner = runner(target, property, default_cases);
    match runner.run(&strategy, test) {
        Ok(()) => {}
        Err(TestError::Fail(why, input)) => {
            panic!("{target}/{property} failed: {why}\nminimal failing input: {input:#?}")
        }
        Err(TestError::Abort(why)) => panic!("{target}/{property} aborted: {why}"),
    }
}

/// The corpus of `target`, sorted by file name: (name, bytes).
pub fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = root().join("tests/fuzz/corpus").join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("corpus entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no seed inputs", dir.display());
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).expect("corpus file"))
        })
        .collect()
}

/// Replays every corpus input of `target` through `test`; a panic or a failed check names the
/// file.
pub fn replay(target: &str, test: impl Fn(&str, &[u8]) -> Result<(), TestCaseError>) {
    let mut failures = Vec::new();
    for (name, bytes) in corpus(target) {
        match catch_unwind(AssertUnwindSafe(|| test(&name, &bytes))) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failures.push(format!("{name}: {e}")),
            Err(p) => failures.push(format!("{name}: panicked: {}", panic_text(&p))),
        }
    }
    assert!(
        failures.is_empty(),
        "corpus {target}: {} input(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(not a string)".into())
}

/// Characters that must never reach the terminal from an echoed value: C0/C1 controls (escape
/// sequences) other than a message's own newlines, and those that reorder, break or hide in a
/// line (bidi overrides, line separators, zero-width characters).
pub fn unsafe_for_terminal(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(
            c,
            '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{feff}'
        )
}

/// Writes `bytes` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write fuzz input");
    p
}
