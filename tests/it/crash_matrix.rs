//! The crash matrix: the binary SIGKILLed right after the k-th answer it gets from AWS (the fault
//! proxy's kill switch, docs/testing.md "Crash matrix (kill-after)"), then the same command run
//! again to the end. Whatever k, the end state must be the clean run's: the same certificates,
//! CloudFront keys, SES identities, SSM parameters (values and versions), config file, journal
//! and files, nothing made twice and nothing left half-done.
//!
//! A headless install makes N requests; CI runs a fixed sample of the k in 1..=N (the first
//! three, the last three and six spread by a fixed seed), `MEDPLUM_CRASH_MATRIX=full` runs every
//! k. A deploy is killed at three moments (its change set created; just executed; while the
//! monitor follows the stack) and the re-run must attach or converge, leaving no change set
//! behind.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use std::sync::Mutex;

use serde_json::Value;

use crate::faults::{ANSWERS, STACK, deploy, differences, emulator, end_state, install, ok, run};
use crate::harness::{FaultProxy, Moto, answers, cfn, cmd, create_zone, rt, text};

/// How many k run in CI: the first three, the last three, and this many minus six between.
const SAMPLED: usize = 12;
/// Runs at once: each holds an emulator and a proxy, and the machine is shared.
const WORKERS: usize = 3;

/// The k to kill at, for a run that makes `n` requests: all of them under
/// `MEDPLUM_CRASH_MATRIX=full`, else the edges and a seeded spread (the same every run, so a
/// failure reproduces).
fn sample(n: u64, full: bool) -> Vec<u64> {
    if full || n <= SAMPLED as u64 {
        return (1..=n).collect();
    }
    let mut ks: BTreeSet<u64> = [1, 2, 3, n - 2, n - 1, n].into();
    let mut x: u64 = 11;
    while ks.len() < SAMPLED {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ks.insert(4 + (x >> 33) % (n - 6));
    }
    ks.into_iter().collect()
}

fn full_matrix() -> bool {
    std::env::var("MEDPLUM_CRASH_MATRIX").is_ok_and(|v| v == "full")
}

/// Every key path of a JSON value (`a.b`, `a[]`), values left out: two journals of equivalent
/// runs hold different ARNs but the same shape, and an intent left unresolved is a path the
/// clean run's journal does not have.
fn key_paths(prefix: &str, v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let p = format!("{prefix}.{k}");
                out.insert(p.clone());
                key_paths(&p, v, out);
            }
        }
        Value::Array(a) => {
            for v in a {
                key_paths(&format!("{prefix}[]"), v, out);
            }
        }
        _ => {}
    }
}

/// The journal as the product reads it (it must parse), each step with its status and the
/// shape of its record.
fn journal_shape(dir: &Path) -> String {
    if let Err(e) = medplum_init::engine::journal::Journal::read_only(dir, "staging") {
        return format!("unreadable: {e}");
    }
    let text = std::fs::read_to_string(dir.join(".medplum-init/staging/state.json"))
        .unwrap_or_else(|e| format!("no journal: {e}"));
    let Ok(journal) = serde_json::from_str::<Value>(&text) else {
        return format!("not JSON: {text}");
    };
    let mut lines = Vec::new();
    for (step, record) in journal["steps"].as_object().cloned().unwrap_or_default() {
        let mut paths = BTreeSet::new();
        key_paths("", &record["data"], &mut paths);
        lines.push(format!(
            "{step}: {} {}",
            record["status"],
            paths.into_iter().collect::<Vec<_>>().join(" ")
        ));
    }
    let mut extra = BTreeSet::new();
    key_paths("", &journal["extra"], &mut extra);
    lines.push(format!(
        "extra: {}",
        extra.into_iter().collect::<Vec<_>>().join(" ")
    ));
    lines.join("\n")
}

/// Every file under `dir` but the answers, by relative path: a temp file, a pending key or a
/// stray draft shows up here.
fn files(dir: &Path) -> String {
    fn walk(root: &Path, d: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.retain(|p| p != "answers.toml");
    out.sort();
    out.join("\n")
}

/// [`end_state`] with the journal's shape and the files left in the folder.
fn install_state(emu: &Moto, dir: &Path) -> BTreeMap<String, String> {
    let mut state = end_state(emu, dir);
    state.insert("journal".into(), journal_shape(dir));
    state.insert("files".into(), files(dir));
    state
}

/// A proxy with nothing to fault in front of a fresh emulator, and a folder with the answers.
fn fresh() -> (Moto, FaultProxy, tempfile::TempDir) {
    let emu = emulator();
    let proxy = FaultProxy::start(&emu, &[]);
    let dir = tempfile::tempdir().unwrap();
    answers(dir.path(), ANSWERS);
    (emu, proxy, dir)
}

/// Starts `args` through `proxy` with the kill switch armed at `k`, and waits for it to end:
/// whether it was killed (rather than ending before its k-th answer) and its stderr.
fn killed_after(proxy: &FaultProxy, dir: &Path, args: &[&str], k: u64) -> (bool, String) {
    proxy.arm_kill_after(k);
    let err = tempfile::NamedTempFile::new().unwrap();
    let mut child = cmd(dir)
        .envs(proxy.env())
        .args(args)
        .args(["--output", "plain"])
        .stdout(Stdio::null())
        .stderr(err.as_file().try_clone().unwrap())
        .spawn()
        .unwrap();
    proxy.kill_pid(child.id());
    let status = child.wait().unwrap();
    let stderr = std::fs::read_to_string(err.path()).unwrap_or_default();
    proxy.clear_kill();
    match status.signal() {
        Some(9) => (true, stderr),
        _ => {
            assert_eq!(
                status.code(),
                Some(0),
                "a run that ended before its {k}-th answer must have finished\n{stderr}"
            );
            (false, stderr)
        }
    }
}

/// Runs `job` for every item on [`WORKERS`] threads; the results in the items' order.
fn parallel<T: Sync, R: Send>(items: &[T], job: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = Mutex::new(0usize);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..WORKERS.min(items.len()) {
            s.spawn(|| {
                loop {
                    let i = {
                        let mut n = next.lock().unwrap();
                        *n += 1;
                        *n - 1
                    };
                    let Some(item) = items.get(i) else { break };
                    let r = job(item);
                    results.lock().unwrap()[i] = Some(r);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|r| r.expect("every job ran"))
        .collect()
}

#[test]
fn an_install_killed_after_any_answer_converges_on_the_rerun_to_the_clean_end_state() {
    const INSTALL: &[&str] = &["--answers", "answers.toml", "--yes"];
    let (emu, proxy, dir) = fresh();
    ok("clean install", &install(proxy.env(), dir.path()));
    let n = proxy.count()["answered"].as_u64().unwrap();
    let clean = install_state(&emu, dir.path());
    // The clean run is the yardstick: it must itself be tidy.
    assert!(
        !clean["files"].contains(".tmp") && !clean["files"].contains("pending-signing-key"),
        "{}",
        clean["files"]
    );
    assert!(
        !clean["journal"].contains("\"pending\"") && !clean["journal"].contains("\"in_progress\""),
        "{}",
        clean["journal"]
    );
    drop((emu, proxy, dir));

    let ks = sample(n, full_matrix());
    let outcomes = parallel(&ks, |&k| {
        let (emu, proxy, dir) = fresh();
        let (killed, stderr) = killed_after(&proxy, dir.path(), INSTALL, k);
        let rerun = install(proxy.env(), dir.path());
        if rerun.status.code() != Some(0) {
            return (
                k,
                killed,
                vec![format!(
                    "the re-run failed\nkilled run's stderr:\n{stderr}\nre-run's stderr:\n{}",
                    text(&rerun.stderr)
                )],
            );
        }
        (
            k,
            killed,
            differences(&clean, &install_state(&emu, dir.path())),
        )
    });
    let mut failures = Vec::new();
    for (k, killed, diff) in &outcomes {
        if !diff.is_empty() {
            failures.push(format!(
                "k={k} of {n} (killed: {killed}):\n{}",
                diff.join("\n")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // A run polls (certificate validation) as long as it takes, so the last few k may lie past
    // a later run's end; every k in the first half is always reached.
    for (k, killed, _) in &outcomes {
        assert!(
            *killed || *k > n / 2,
            "the run ended before answer {k} of {n}"
        );
    }
    eprintln!(
        "crash matrix (install): {} of {n} k run, {} killed",
        outcomes.len(),
        outcomes.iter().filter(|o| o.1).count()
    );
}

/// The change sets of `stack` with their execution status.
fn change_sets(emu: &Moto, stack: &str) -> Vec<String> {
    let c = cfn(emu, "us-east-1");
    rt().block_on(async {
        c.list_change_sets()
            .stack_name(stack)
            .send()
            .await
            .map(|o| {
                o.summaries()
                    .iter()
                    .map(|s| {
                        format!(
                            "{} {:?}",
                            s.change_set_name().unwrap_or_default(),
                            s.execution_status()
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    })
}

/// An emulator whose resources take a moment each (so a deploy is killed while the stack is
/// still changing), with a finished install in a folder, and a proxy in front of it.
fn installed() -> (Moto, FaultProxy, tempfile::TempDir) {
    let emu = Moto::emulator_with(&[("MEDPLUM_EMULATOR_RESOURCE_DELAY", "0.05")]);
    create_zone(&emu, "example.com");
    let dir = tempfile::tempdir().unwrap();
    answers(dir.path(), ANSWERS);
    ok("install", &install(emu.env(), dir.path()));
    let proxy = FaultProxy::start(&emu, &[]);
    (emu, proxy, dir)
}

/// The position (1-based, among answers) of the `nth` answer to `operation` in a proxy log.
fn position(log: &[Value], operation: &str, nth: usize) -> Option<u64> {
    log.iter()
        .filter(|r| !r["status"].is_null())
        .enumerate()
        .filter(|(_, r)| r["operation"] == operation)
        .nth(nth - 1)
        .map(|(i, _)| i as u64 + 1)
}

#[test]
fn a_deploy_killed_at_sampled_moments_is_attached_to_or_redone_by_the_rerun() {
    let (emu, proxy, dir) = installed();
    ok("clean deploy", &deploy(proxy.env(), dir.path()));
    let log = proxy.log();
    let clean = end_state(&emu, dir.path());
    assert_eq!(clean["stack"], "Some(\"CREATE_COMPLETE\")");
    let created = position(&log, "CreateChangeSet", 1).expect("a change set was created");
    let executed = position(&log, "ExecuteChangeSet", 1).expect("a change set was executed");
    // A few polls into the monitor: the stack is still being created.
    let monitoring = executed + 3;
    drop((emu, proxy, dir));

    let moments = [
        ("the change set created", created),
        ("the change set executed", executed),
        ("the monitor following the stack", monitoring),
    ];
    let outcomes = parallel(&moments, |&(moment, k)| {
        let (emu, proxy, dir) = installed();
        let (killed, stderr) = killed_after(&proxy, dir.path(), &["deploy", "--yes"], k);
        let during = proxy
            .log()
            .iter()
            .rfind(|r| !r["status"].is_null())
            .map(|r| r["operation"].to_string())
            .unwrap_or_default();
        let out = run(emu.env(), dir.path(), &["deploy", "--yes"]);
        let mut problems = Vec::new();
        if out.status.code() != Some(0) {
            problems.push(format!(
                "the re-run failed\nkilled run's stderr:\n{stderr}\nre-run's stderr:\n{}",
                text(&out.stderr)
            ));
        } else {
            problems.extend(differences(&clean, &end_state(&emu, dir.path())));
            // Executing a change set deletes the stack's others: one left, the executed one.
            let sets = change_sets(&emu, STACK);
            if sets.len() != 1 || !sets[0].ends_with("Some(ExecuteComplete)") {
                problems.push(format!("change sets left: {sets:?}"));
            }
            let executions = emu
                .requests("ExecuteChangeSet")
                .iter()
                .filter(|r| r["error"].is_null())
                .count();
            if executions != 1 {
                problems.push(format!("{executions} change sets executed, not one"));
            }
        }
        (moment, k, killed, during, problems)
    });
    let mut failures = Vec::new();
    for (moment, k, killed, during, problems) in &outcomes {
        assert!(*killed, "the deploy ended before answer {k} ({moment})");
        if !problems.is_empty() {
            failures.push(format!(
                "killed after answer {k}, {moment} (the last answer: {during}):\n{}",
                problems.join("\n")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    for (moment, k, _, during, _) in &outcomes {
        eprintln!(
            "crash matrix (deploy): killed after answer {k} ({moment}; it answered {during})"
        );
    }
}

#[test]
fn the_sample_holds_the_edges_and_a_fixed_spread() {
    let ks = sample(200, false);
    assert_eq!(ks.len(), SAMPLED);
    assert_eq!(&ks[..3], &[1, 2, 3]);
    assert_eq!(&ks[SAMPLED - 3..], &[198, 199, 200]);
    assert_eq!(ks, sample(200, false), "the same every run");
    assert_eq!(sample(200, true), (1..=200).collect::<Vec<_>>());
    assert_eq!(sample(5, false), vec![1, 2, 3, 4, 5]);
}
