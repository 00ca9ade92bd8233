//! Parity with `@medplum/cdk` 4.0.2: each fixture's config is synthesized and compared, resource
//! by resource, with what the official CDK synthesized for the same config and context (logical
//! IDs, types, properties, DependsOn, deletion policies, metadata, mappings, parameters,
//! outputs). Any difference not on `synth_deviations::DEVIATIONS` fails, so does any deviation that no longer
//! happens, and the list must match the table in docs/deploy-engine.md.
//!
//! The fixtures were produced by `scripts/cdk-fixtures.sh` (the official CDK, run with the
//! fixture's config and cdk.context.json, offline).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use medplum_init::config::infra::InfraConfig;
use medplum_init::deploy::context::CdkContext;
use medplum_init::deploy::{StackTemplate, synth};
use serde_json::Value;

use crate::harness::root;
use crate::synth_deviations::DEVIATIONS;

pub struct Fixture {
    pub name: &'static str,
    pub dir: PathBuf,
}

pub fn fixtures() -> Vec<Fixture> {
    let f = |name: &'static str, rel: &str| Fixture {
        name,
        dir: root().join("tests/fixtures").join(rel),
    };
    vec![
        f("reference", "reference"),
        f("features", "cdk-4.0.2/features"),
        f("eu", "cdk-4.0.2/eu"),
        f("byo", "cdk-4.0.2/byo"),
        f("rds", "cdk-4.0.2/rds"),
        f("cloudtrail", "cdk-4.0.2/cloudtrail"),
        f("vpc", "cdk-4.0.2/vpc"),
        f("all", "cdk-4.0.2/all"),
    ]
}

pub fn config_path(dir: &Path) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.starts_with("medplum.") && n.ends_with(".config.json")
        })
        .expect("a medplum.<env>.config.json in the fixture")
}

/// Synthesizes a fixture from its config and context, offline.
pub fn synth_fixture(dir: &Path) -> Vec<StackTemplate> {
    let config = InfraConfig::read_plain(&config_path(dir)).unwrap();
    let lookups = CdkContext::read(dir).unwrap().lookups_of(&config).unwrap();
    synth(&config, &lookups).unwrap()
}

fn role(i: usize) -> &'static str {
    if i == 0 { "primary" } else { "us-east-1" }
}

/// Every leaf difference between two templates: (entry, path inside it).
fn diff(ours: &Value, theirs: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let sections: BTreeSet<&String> = ours
        .as_object()
        .unwrap()
        .keys()
        .chain(theirs.as_object().unwrap().keys())
        .collect();
    for section in sections {
        let a = ours.get(section).and_then(Value::as_object);
        let b = theirs.get(section).and_then(Value::as_object);
        let names: BTreeSet<&String> = a
            .into_iter()
            .flat_map(|m| m.keys())
            .chain(b.into_iter().flat_map(|m| m.keys()))
            .collect();
        for name in names {
            let entry = format!("{section}.{name}");
            match (a.and_then(|m| m.get(name)), b.and_then(|m| m.get(name))) {
                (Some(x), Some(y)) => walk(x, y, "", &mut |p| out.push((entry.clone(), p))),
                _ => out.push((entry, String::new())),
            }
        }
    }
    out
}

fn walk(a: &Value, b: &Value, path: &str, report: &mut dyn FnMut(String)) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => walk(u, v, &p, report),
                    _ => report(p),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (u, v)) in x.iter().zip(y).enumerate() {
                walk(u, v, &format!("{path}[{i}]"), report);
            }
        }
        _ if a == b => {}
        _ => report(path.to_string()),
    }
}

fn covers(dev_path: &str, path: &str) -> bool {
    dev_path.is_empty()
        || path == dev_path
        || path.starts_with(&format!("{dev_path}."))
        || path.starts_with(&format!("{dev_path}["))
}

#[test]
fn templates_match_the_official_cdk_except_for_listed_deviations() {
    let mut failures = Vec::new();
    let mut used = vec![false; DEVIATIONS.len()];
    let mut matched_resources = 0;
    for fx in fixtures() {
        let stacks = synth_fixture(&fx.dir);
        for (i, stack) in stacks.iter().enumerate() {
            let file = fx.dir.join(format!("{}.template.json", stack.name));
            let theirs: Value =
                serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
            let differences = diff(&stack.template, &theirs);
            let differing: BTreeSet<&str> = differences
                .iter()
                .filter_map(|(e, _)| e.strip_prefix("Resources."))
                .collect();
            matched_resources += theirs["Resources"]
                .as_object()
                .unwrap()
                .keys()
                .filter(|k| !differing.contains(k.as_str()))
                .count();
            for (entry, path) in differences {
                let hit = DEVIATIONS.iter().position(|d| {
                    d.fixture.split(", ").any(|f| f == fx.name)
                        && d.stack == role(i)
                        && match d.entry.strip_suffix('*') {
                            Some(prefix) => entry.starts_with(prefix),
                            None => d.entry == entry,
                        }
                        && covers(d.path, &path)
                });
                match hit {
                    Some(k) => used[k] = true,
                    None => failures.push(format!(
                        "{} {} {entry} {path}:\n  ours:   {}\n  theirs: {}",
                        fx.name,
                        role(i),
                        pick(&stack.template, &entry, &path),
                        pick(&theirs, &entry, &path),
                    )),
                }
            }
        }
        // Every template of the fixture is accounted for.
        let files = std::fs::read_dir(&fx.dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".template.json")
            })
            .count();
        assert_eq!(files, stacks.len(), "{}: stack count", fx.name);
    }
    for (k, d) in DEVIATIONS.iter().enumerate() {
        if !used[k] {
            failures.push(format!(
                "stale deviation (no longer happens): {} {} {} {}",
                d.fixture, d.stack, d.entry, d.path
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The reference alone has 81 resources; all fixtures together more than 300.
    assert!(
        matched_resources > 300,
        "only {matched_resources} resources matched"
    );
    eprintln!(
        "parity: {matched_resources} resources identical, {} deviations",
        DEVIATIONS.len()
    );
}

/// The value at `entry` + `path`, for failure messages.
fn pick(t: &Value, entry: &str, path: &str) -> String {
    let mut v = t;
    for part in entry.splitn(2, '.') {
        v = match v.get(part) {
            Some(x) => x,
            None => return "(absent)".into(),
        };
    }
    if !path.is_empty() {
        for seg in path.split('.') {
            let (key, idx) = match seg.split_once('[') {
                Some((k, rest)) => (k, rest.trim_end_matches(']').parse::<usize>().ok()),
                None => (seg, None),
            };
            v = match v.get(key) {
                Some(x) => x,
                None => return "(absent)".into(),
            };
            if let Some(i) = idx {
                v = match v.get(i) {
                    Some(x) => x,
                    None => return "(absent)".into(),
                };
            }
        }
    }
    let s = v.to_string();
    if s.len() > 400 {
        format!("{}…", &s[..400])
    } else {
        s
    }
}

/// The deviations table of docs/deploy-engine.md lists exactly [`DEVIATIONS`].
#[test]
fn documented_deviations_match_the_list_in_code() {
    let doc = std::fs::read_to_string(root().join("docs/deploy-engine.md")).unwrap();
    let table = doc
        .split("| Fixture | Stack | Entry | Path | Reason |")
        .nth(1)
        .expect("the deviations table in docs/deploy-engine.md");
    let rows: BTreeSet<String> = table
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            cells
                .iter()
                .map(|c| match c.trim_matches('`') {
                    "(entire)" => "",
                    other => other,
                })
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .collect();
    let code: BTreeSet<String> = DEVIATIONS
        .iter()
        .map(|d| [d.fixture, d.stack, d.entry, d.path, d.reason].join(" | "))
        .collect();
    let missing: Vec<_> = code.difference(&rows).collect();
    let extra: Vec<_> = rows.difference(&code).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "docs/deploy-engine.md deviations table differs from the code.\nmissing from docs:\n{}\nnot in code:\n{}\n\nrows for the docs:\n{}",
        missing
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        extra
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        DEVIATIONS
            .iter()
            .map(|d| {
                let path = if d.path.is_empty() {
                    "(entire)".to_string()
                } else {
                    format!("`{}`", d.path)
                };
                format!(
                    "| `{}` | `{}` | `{}` | {path} | {} |",
                    d.fixture, d.stack, d.entry, d.reason
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    );
}
