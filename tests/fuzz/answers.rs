//! The answers parser and validators (`src/answers/`): arbitrary bytes through
//! [`Answers::load`], arbitrary text and TOML shapes through [`Answers::from_toml`], and a valid
//! answers file with one field mutated. Never a panic; every rejection is a list of errors each
//! with a key, a problem and a fix, terminal-safe, capped, with exit code 2; every accepted file
//! has every value the accessors promise, with numbers in the range of the field they fill.

use medplum_init::answers::{Answers, AnswersInvalid, MAX_REPORTED_ERRORS, Overrides, keys};
use medplum_init::config::server::SERVER_KEYS;
use medplum_init::error::Diagnostic;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use crate::{DEFAULT_CASES, fuzz, replay, unsafe_for_terminal};

/// A valid answers file: the README's example.
pub const BASE: &str = include_str!("../../examples/staging.toml");

/// The longest key, problem or fix once escaped: 240 characters, each at most a `\u{10ffff}`
/// escape, and an ellipsis.
const MAX_FIELD_CHARS: usize = 240 * 10 + 1;

pub fn check_invalid(e: &AnswersInvalid) -> Result<(), TestCaseError> {
    prop_assert!(!e.errors.is_empty(), "a rejection without an error");
    prop_assert_eq!(e.exit_code(), 2, "answers are input: exit 2");
    prop_assert!(e.hint().is_some());
    for err in &e.errors {
        // Not trimmed: a key of spaces is a key (quoted in the message, `unknown key ' '`); one
        // of invisible characters is escaped, so it is never blank.
        prop_assert!(!err.key.is_empty(), "an error without a key: {:?}", err);
        prop_assert!(!err.problem.trim().is_empty(), "no problem: {:?}", err);
        prop_assert!(!err.fix.trim().is_empty(), "no fix: {:?}", err);
        for s in [&err.key, &err.problem, &err.fix] {
            prop_assert!(
                !s.chars().any(unsafe_for_terminal),
                "unescaped control or bidi character in {:?}",
                s
            );
            prop_assert!(
                s.chars().count() <= MAX_FIELD_CHARS,
                "uncut: {} chars",
                s.len()
            );
        }
    }
    let shown = e.to_string();
    prop_assert!(!shown.chars().any(unsafe_for_terminal));
    // A header, two lines per error shown, and "...and N more".
    prop_assert!(
        shown.lines().count() <= 2 * MAX_REPORTED_ERRORS + 2,
        "errors are not capped: {} lines",
        shown.lines().count()
    );
    let details = e.json_details().expect("invalid answers have JSON details");
    prop_assert!(
        details["errors"]
            .as_array()
            .is_some_and(|a| a.len() <= MAX_REPORTED_ERRORS)
    );
    Ok(())
}

/// Largest value each integer key may hold: the type of the config field it fills.
const INT_RANGES: &[(&str, i64, i64)] = &[
    ("apiPort", 1, u16::MAX as i64),
    ("maxAzs", 0, u32::MAX as i64),
    ("rdsInstances", 0, u32::MAX as i64),
    ("desiredServerCount", 0, u32::MAX as i64),
    ("serverMemory", 0, u32::MAX as i64),
    ("serverCpu", 0, u32::MAX as i64),
];

pub fn check_accepted(a: &Answers) -> Result<(), TestCaseError> {
    // Each accessor panics if validation let its key through empty.
    let _ = (a.env(), a.stack_name(), a.region(), a.domain());
    let _ = (a.api_domain(), a.app_domain(), a.storage_domain());
    let _ = (a.storage_bucket(), a.support_email(), a.base_url());
    let _ = (
        a.api_port(),
        a.account(),
        a.hosted_zone_name(),
        a.logging_bucket(),
    );
    // Written into the web app's JavaScript as they are: nothing that could end a string.
    for key in ["clientId", "googleClientId", "recaptchaSiteKey"] {
        if let Some(s) = a.str(key) {
            prop_assert!(
                s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')),
                "{} = {:?} was accepted: it would break out of the app's JavaScript",
                key,
                s
            );
        }
    }
    for (key, lo, hi) in INT_RANGES {
        let v = a.cdk.get(*key).cloned().unwrap_or_default();
        let n = v.as_i64();
        prop_assert!(
            n.is_some_and(|n| (*lo..=*hi).contains(&n)),
            "{} = {} was accepted: it does not fit the config field",
            key,
            v
        );
    }
    Ok(())
}

fn check_text(text: &str) -> Result<(), TestCaseError> {
    match Answers::from_toml(text, "fuzz.toml", &Overrides::default()) {
        Ok(a) => check_accepted(&a),
        Err(e) => check_invalid(&e),
    }
}

fn check_bytes(dir: &std::path::Path, bytes: &[u8]) -> Result<(), TestCaseError> {
    let path = crate::write(dir, "answers.toml", bytes);
    match Answers::load(&path, &Overrides::default()) {
        Ok(a) => check_accepted(&a),
        Err(e) => check_invalid(&e),
    }
}

/// Strings that have broken parsers and terminals before, and arbitrary ones.
pub fn tricky_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-z0-9.-]{1,30}",
        ".{0,40}",
        "[\\x00-\\x1f\\x7f\u{80}-\u{9f}\u{202a}-\u{202e}\u{2066}-\u{2069}a-z]{1,20}",
        Just("\u{1b}[2J\u{1b}]0;owned\u{7}".to_string()),
        (1usize..3000).prop_map(|n| "x".repeat(n)),
        Just("arn:aws:acm:us-east-1:123456789012:certificate/x".to_string()),
        Just("support@example.com".to_string()),
    ]
}

/// Integers near the edges of every field type, and arbitrary ones.
pub fn tricky_int() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        -2i64..70_000,
        prop::sample::select(vec![
            0,
            -1,
            255,
            256,
            65_535,
            65_536,
            4_294_967_295,
            4_294_967_296,
            4_294_967_552,
            i64::MIN,
            i64::MAX,
        ]),
    ]
}

/// Keys: known ones (so validation, not just the unknown-key check, runs), and arbitrary ones.
fn key() -> impl Strategy<Value = String> {
    let known: Vec<String> = keys::top_level_names()
        .map(str::to_string)
        .chain(SERVER_KEYS.iter().map(|k| k.key.to_string()))
        .chain(
            keys::TOOL_TABLES
                .iter()
                .flat_map(|(_, ks)| ks.iter().map(|(k, _)| k.to_string())),
        )
        .collect();
    prop_oneof![
        4 => prop::sample::select(known),
        1 => "[a-zA-Z_.-]{1,20}",
        1 => ".{1,12}",
    ]
}

pub fn toml_value() -> impl Strategy<Value = toml::Value> {
    let leaf = prop_oneof![
        tricky_string().prop_map(toml::Value::String),
        tricky_int().prop_map(toml::Value::Integer),
        any::<bool>().prop_map(toml::Value::Boolean),
        any::<f64>().prop_map(toml::Value::Float),
    ];
    leaf.prop_recursive(4, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(toml::Value::Array),
            prop::collection::vec((key(), inner), 0..5)
                .prop_map(|kv| toml::Value::Table(kv.into_iter().collect())),
        ]
    })
}

/// Every key path a mutation may touch: the base file's, and every key the validator knows.
fn paths() -> Vec<String> {
    let mut out: Vec<String> = keys::CDK_KEYS.iter().map(|k| k.key.to_string()).collect();
    out.extend(SERVER_KEYS.iter().map(|k| format!("server.{}", k.key)));
    for (table, ks) in keys::TOOL_TABLES {
        out.push(table.to_string());
        out.extend(ks.iter().map(|(k, _)| format!("{table}.{k}")));
    }
    out.push("server".into());
    out
}

#[derive(Debug, Clone)]
enum Mutation {
    Remove(String),
    Set(String, toml::Value),
    /// A near-miss key: the value moves to a misspelt (or case-changed) name.
    Rename(String, String),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let p = || prop::sample::select(paths());
    prop_oneof![
        1 => p().prop_map(Mutation::Remove),
        4 => (p(), toml_value()).prop_map(|(k, v)| Mutation::Set(k, v)),
        1 => (p(), "[a-zA-Z]{0,2}").prop_map(|(k, s)| Mutation::Rename(k, s)),
    ]
}

/// The table a key path lives in (made when missing), and the key in it.
fn table_at<'a>(doc: &'a mut toml::Table, path: &str) -> (Option<&'a mut toml::Table>, String) {
    match path.split_once('.') {
        None => (Some(doc), path.to_string()),
        Some((t, k)) => {
            if !doc.contains_key(t) {
                doc.insert(t.to_string(), toml::Value::Table(Default::default()));
            }
            (
                doc.get_mut(t).and_then(toml::Value::as_table_mut),
                k.to_string(),
            )
        }
    }
}

fn apply(m: &Mutation) -> String {
    let mut doc: toml::Table = BASE.parse().expect("the example parses");
    match m {
        Mutation::Remove(path) => {
            if let (Some(t), k) = table_at(&mut doc, path) {
                t.remove(&k);
            }
        }
        Mutation::Set(path, v) => {
            if let (Some(t), k) = table_at(&mut doc, path) {
                t.insert(k, v.clone());
            }
        }
        Mutation::Rename(path, suffix) => {
            if let (Some(t), k) = table_at(&mut doc, path)
                && let Some(v) = t.remove(&k)
            {
                let near = if suffix.is_empty() {
                    k.to_lowercase()
                } else {
                    format!("{k}{suffix}")
                };
                t.insert(near, v);
            }
        }
    }
    toml::to_string(&doc).expect("a TOML table serialises")
}

#[test]
fn answers_corpus() {
    let dir = tempfile::tempdir().unwrap();
    replay("answers", |_, bytes| check_bytes(dir.path(), bytes));
}

#[test]
fn answers_generated_seeds() {
    // Too big to keep as files: a huge line, a huge unknown key, deep nesting, many errors.
    let dir = tempfile::tempdir().unwrap();
    let huge_key = format!("{} = 1\n", "k".repeat(2 << 20));
    let deep = format!("name = {}{}\n", "[".repeat(5000), "]".repeat(5000));
    let deep_tables = format!("a = {}1{}\n", "{ b = ".repeat(2000), " }".repeat(2000));
    // Once took 10 s (debug build): a typo suggestion for every one of the 5000 keys.
    let many: String = (0..5000).map(|i| format!("unknown{i} = {i}\n")).collect();
    let big_int = format!("{BASE}\napiPort = {}\n", "9".repeat(400));
    for text in [huge_key, deep, deep_tables, many, big_int] {
        check_bytes(dir.path(), text.as_bytes()).unwrap();
    }
}

#[test]
fn answers_arbitrary_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        // Mostly text, with a few bytes that are not: non-UTF-8, NUL, controls.
        (prop::collection::vec(any::<u8>(), 0..8), 0usize..BASE.len()).prop_map(|(junk, at)| {
            let mut b = BASE.as_bytes().to_vec();
            b.splice(at..at, junk);
            b
        }),
    ];
    fuzz("answers", "bytes", DEFAULT_CASES, bytes, |b| {
        check_bytes(dir.path(), &b)
    });
}

#[test]
fn answers_arbitrary_text() {
    fuzz("answers", "text", DEFAULT_CASES, ".{0,300}", |t| {
        check_text(&t)
    });
}

#[test]
fn answers_arbitrary_toml_shapes() {
    let doc = prop::collection::vec((key(), toml_value()), 0..12);
    fuzz("answers", "shapes", DEFAULT_CASES, doc, |kv| {
        let table: toml::Table = kv.into_iter().collect();
        match toml::to_string(&table) {
            Ok(text) => check_text(&text),
            // Not every tree is a document (an array of tables after a value, ...).
            Err(_) => Ok(()),
        }
    });
}

#[test]
fn answers_one_field_mutated() {
    check_text(BASE).unwrap();
    fuzz("answers", "mutated", DEFAULT_CASES, mutation(), |m| {
        check_text(&apply(&m))
    });
}
