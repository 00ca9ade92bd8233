//! The config-file reader (`src/config/infra.rs`): arbitrary bytes through
//! [`ConfigDocument::read`] and [`InfraConfig::read_plain`]; the reference config with
//! external-secret objects (well-formed and near misses) at arbitrary keys, resolved with
//! arbitrary SSM values; a valid answers file checked against such a file. Never a panic; a file
//! that does not work is refused as input (exit 2) with a hint; an SSM value never reaches a
//! message, escaped or not.

use medplum_init::answers::{Answers, Overrides};
use medplum_init::config::infra::{
    ConfigDocument, ConfigFileError, EXTERNAL_SECRET_SYSTEM, ExternalSecret, ExternalSecretType,
    InfraConfig, KEY_ORDER,
};
use medplum_init::error::Diagnostic;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{Map, Value, json};

use crate::{DEFAULT_CASES, fuzz, replay, unsafe_for_terminal};

pub const REFERENCE: &str = include_str!("../fixtures/reference/medplum.staging.config.json");

/// Every SSM value a test treats as secret starts with this, so it can never be a coincidental
/// part of a message's own words.
const MARK: &str = "S3CR3T";

fn check_error(e: &ConfigFileError) -> Result<(), TestCaseError> {
    prop_assert!(
        !matches!(
            e,
            ConfigFileError::Read { .. } | ConfigFileError::Write { .. }
        ),
        "a file's content was reported as an I/O failure: {}",
        e
    );
    prop_assert_eq!(e.exit_code(), 2, "a bad config file is input: {}", e);
    prop_assert!(e.hint().is_some(), "no hint: {}", e);
    prop_assert!(!e.to_string().trim().is_empty());
    Ok(())
}

fn check_doc(doc: &ConfigDocument) -> Result<(), TestCaseError> {
    // What a run writes back reads as the same document, in the documented order. Floats only
    // to within an ulp: serde_json reads them back exactly only with its float_roundtrip
    // feature, which this project does not enable (a float is no key of ours).
    let again: Map<String, Value> = serde_json::from_str(&doc.to_json()).expect("own output");
    if !has_float(&Value::Object(doc.map.clone())) {
        prop_assert_eq!(&again, &doc.ordered());
    } else {
        prop_assert!(again.keys().eq(doc.ordered().keys()));
    }
    let _ = doc.external_secrets();
    match InfraConfig::from_map(doc.map.clone()) {
        Ok(_) => {}
        Err(e) => check_error(&e)?,
    }
    Ok(())
}

fn has_float(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.is_f64(),
        Value::Array(a) => a.iter().any(has_float),
        Value::Object(m) => m.values().any(has_float),
        _ => false,
    }
}

fn check_file(dir: &std::path::Path, bytes: &[u8]) -> Result<(), TestCaseError> {
    let path = crate::write(dir, "medplum.fuzz.config.json", bytes);
    match ConfigDocument::read(&path) {
        Ok(Some(doc)) => check_doc(&doc)?,
        Ok(None) => prop_assert!(false, "an existing file read as missing"),
        Err(e) => check_error(&e)?,
    }
    match InfraConfig::read_plain(&path) {
        Ok(_) => {}
        Err(e) => check_error(&e)?,
    }
    Ok(())
}

/// A value for one config key: an external secret, a near miss of one, or a plain value.
#[derive(Debug, Clone)]
enum Slot {
    Secret(ExternalSecretType),
    /// The secret shape with one thing wrong: it must then be an ordinary (object) value.
    NearMiss(Value),
    Plain(Value),
}

fn kind() -> impl Strategy<Value = ExternalSecretType> {
    prop_oneof![
        Just(ExternalSecretType::String),
        Just(ExternalSecretType::Number),
        Just(ExternalSecretType::Boolean),
    ]
}

fn slot() -> impl Strategy<Value = Slot> {
    let near = prop_oneof![
        Just(json!({"system": EXTERNAL_SECRET_SYSTEM, "key": "/k"})),
        Just(json!({"system": EXTERNAL_SECRET_SYSTEM, "key": "/k", "type": "integer"})),
        Just(json!({"system": EXTERNAL_SECRET_SYSTEM, "key": 7, "type": "string"})),
        Just(json!({"system": null, "key": "/k", "type": "string"})),
        Just(json!({"system": "vault", "key": "/k", "type": "string"})),
        Just(json!({"system": EXTERNAL_SECRET_SYSTEM, "key": "/k", "type": "string", "x": 1})),
        Just(json!({"System": EXTERNAL_SECRET_SYSTEM, "key": "/k", "type": "string"})),
    ];
    let plain = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        crate::answers::tricky_string().prop_map(Value::from),
        Just(json!([])),
        Just(json!({})),
    ];
    prop_oneof![
        3 => kind().prop_map(Slot::Secret),
        1 => near.prop_map(Slot::NearMiss),
        1 => plain.prop_map(Slot::Plain),
    ]
}

/// An SSM value: a marked secret (with quotes, backslashes, controls that a message would
/// escape), a number of any size, a boolean, or nothing.
fn ssm_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~\\x00-\\x1f\"\\\\\u{e9}\u{202e}]{0,16}".prop_map(|s| format!("{MARK}{s}")),
        any::<u128>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| format!(" {n}px")),
        Just("true".to_string()),
        Just("false".to_string()),
        Just(String::new()),
    ]
}

#[derive(Debug, Clone)]
struct SecretCase {
    slots: Vec<(String, Slot)>,
    /// Also nest one secret inside `environment` (the CDK resolves them anywhere).
    nested: Option<ExternalSecretType>,
    values: Vec<String>,
}

fn secret_case() -> impl Strategy<Value = SecretCase> {
    let keys: Vec<String> = KEY_ORDER.iter().map(|k| k.to_string()).collect();
    (
        prop::collection::vec((prop::sample::select(keys), slot()), 1..6),
        prop::option::of(kind()),
        prop::collection::vec(ssm_value(), 8),
    )
        .prop_map(|(slots, nested, values)| SecretCase {
            slots,
            nested,
            values,
        })
}

fn secret_json(key: &str, kind: ExternalSecretType) -> Value {
    json!({"system": EXTERNAL_SECRET_SYSTEM, "key": format!("/medplum/fuzz/{key}"), "type": kind})
}

fn build(case: &SecretCase) -> ConfigDocument {
    let mut map: Map<String, Value> = serde_json::from_str(REFERENCE).unwrap();
    for (key, slot) in &case.slots {
        let v = match slot {
            Slot::Secret(kind) => secret_json(key, *kind),
            Slot::NearMiss(v) | Slot::Plain(v) => v.clone(),
        };
        map.insert(key.clone(), v);
    }
    if let Some(kind) = case.nested {
        map.insert(
            "environment".into(),
            json!({"A": "plain", "B": secret_json("environment.B", kind)}),
        );
    }
    ConfigDocument { map }
}

fn check_secrets(case: SecretCase) -> Result<(), TestCaseError> {
    let doc = build(&case);
    // Exactly the well-formed objects are external secrets; near misses are plain values.
    let found = doc.external_secrets();
    for (key, v) in &doc.map {
        let shaped = v.as_object().is_some_and(|o| {
            o.len() == 3
                && o.get("system").is_some_and(Value::is_string)
                && o.get("key").is_some_and(Value::is_string)
                && matches!(
                    o.get("type").and_then(Value::as_str),
                    Some("string" | "number" | "boolean")
                )
        });
        prop_assert_eq!(
            shaped,
            found.iter().any(|(p, _)| p == key),
            "external secret at {} misrecognised: {}",
            key,
            v
        );
    }
    check_doc(&doc)?;

    let mut handed = Vec::new();
    let result = doc.resolve(|s| {
        let v = case.values[handed.len() % case.values.len()].clone();
        handed.push((s.key.clone(), v.clone()));
        Ok(v)
    });
    match result {
        Ok(cfg) => {
            let _ = serde_json::to_value(&cfg).expect("a resolved config serialises");
        }
        Err(e) => {
            check_error(&e)?;
            let msg = e.to_string();
            for (key, v) in handed.iter().filter(|(_, v)| v.starts_with(MARK)) {
                for form in [
                    v.clone(),
                    format!("{v:?}"),
                    Value::from(v.as_str()).to_string(),
                ] {
                    let inner = form.trim_matches('"');
                    prop_assert!(
                        !msg.contains(inner),
                        "the value of {} reached the message: {}",
                        key,
                        msg
                    );
                }
            }
        }
    }

    // A run's answers checked against this file: every problem names a key and a fix.
    let answers = Answers::from_toml(crate::answers::BASE, "base.toml", &Overrides::default())
        .expect("the example is valid");
    for err in answers.check_config_file(&doc.map, "medplum.fuzz.config.json") {
        prop_assert!(!err.key.is_empty() && !err.problem.is_empty() && !err.fix.is_empty());
        for s in [&err.key, &err.problem, &err.fix] {
            prop_assert!(!s.chars().any(unsafe_for_terminal), "unescaped: {:?}", s);
        }
    }
    Ok(())
}

/// JavaScript's `parseInt(v, 10)` where it is a number (up to 38 digits, enough for a test).
fn leading_integer(raw: &str) -> Option<i128> {
    let t = raw.trim_start();
    let (neg, rest) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let d: i128 = digits.get(..digits.len().min(38))?.parse().ok()?;
    Some(if neg { -d } else { d })
}

fn check_coerce((kind, raw): (ExternalSecretType, String)) -> Result<(), TestCaseError> {
    let s = ExternalSecret {
        system: EXTERNAL_SECRET_SYSTEM.into(),
        key: "/medplum/fuzz/k".into(),
        kind,
    };
    match s.coerce(&raw) {
        Ok(v) => match kind {
            ExternalSecretType::String => prop_assert_eq!(v, Value::from(raw.as_str())),
            ExternalSecretType::Boolean => prop_assert!(raw == "true" || raw == "false"),
            // parseInt: the leading integer.
            ExternalSecretType::Number => {
                let n = v.as_i64().expect("an integer");
                prop_assert_eq!(Some(n as i128), leading_integer(&raw), "from {:?}", raw);
            }
        },
        Err(msg) => {
            prop_assert!(msg.contains("/medplum/fuzz/k"), "no key: {}", msg);
            if raw.starts_with(MARK) {
                prop_assert!(!msg.contains(&raw), "value echoed: {}", msg);
            }
            if kind == ExternalSecretType::Number && leading_integer(&raw).is_some() {
                prop_assert!(
                    msg.contains("out of range"),
                    "a number too large is not 'not an integer': {}",
                    msg
                );
            }
        }
    }
    Ok(())
}

#[test]
fn config_corpus() {
    let dir = tempfile::tempdir().unwrap();
    replay("config", |_, bytes| check_file(dir.path(), bytes));
}

#[test]
fn config_arbitrary_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        (
            prop::collection::vec(any::<u8>(), 0..6),
            0usize..REFERENCE.len()
        )
            .prop_map(|(junk, at)| {
                let mut b = REFERENCE.as_bytes().to_vec();
                b.splice(at..at, junk);
                b
            }),
        (0usize..REFERENCE.len()).prop_map(|n| REFERENCE.as_bytes()[..n].to_vec()),
    ];
    fuzz("config", "bytes", DEFAULT_CASES, bytes, |b| {
        check_file(dir.path(), &b)
    });
}

#[test]
fn config_external_secrets() {
    fuzz(
        "config",
        "secrets",
        DEFAULT_CASES,
        secret_case(),
        check_secrets,
    );
}

#[test]
fn config_secret_coercion() {
    let raw = prop_oneof![ssm_value(), "[ +-]{0,2}[0-9]{1,30}[a-z.]{0,3}", ".{0,12}",];
    fuzz(
        "config",
        "coerce",
        DEFAULT_CASES,
        (kind(), raw),
        check_coerce,
    );
}

#[test]
fn config_cases_found_by_fuzzing() {
    // A secret with a backslash: serde quotes it escaped ("S3CR3T\\a"), which the raw value
    // did not match, so it reached the message.
    let leaky = SecretCase {
        slots: vec![("maxAzs".into(), Slot::Secret(ExternalSecretType::String))],
        nested: None,
        values: vec!["S3CR3T\\a".into(), "S3CR3T\"q\u{1b}".into()],
    };
    check_secrets(leaky).unwrap();
    // A number past i64 was "does not start with an integer".
    check_coerce((ExternalSecretType::Number, "9223372036854775808".into())).unwrap();
    // A short value masked everywhere garbled the message ("expected u<value ...>6").
    let mut doc = ConfigDocument {
        map: serde_json::from_str(REFERENCE).unwrap(),
    };
    doc.map.insert(
        "apiPort".into(),
        secret_json("apiPort", ExternalSecretType::String),
    );
    let msg = doc.resolve(|_| Ok("1".into())).unwrap_err().to_string();
    assert!(msg.contains("expected u16"), "{msg}");
    assert!(msg.contains("not shown"), "{msg}");
}
