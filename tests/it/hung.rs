//! Hung endpoints: a server that accepts connections and never answers. A headless install
//! ends at `--aws-call-timeout` with an error naming the step and the call (exit 1); Ctrl-C
//! during the hung call exits 130 at once; a deploy whose event reads hang gives up after
//! `--max-poll-failures` with a clear error, and the next deploy completes.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::harness::{
    FaultProxy, Moto, answers, aws_env, cmd, create_zone, stack_status, text, wait_until,
};

/// Accepts every connection, reads nothing, answers nothing, and holds it open until dropped.
struct Silent {
    url: String,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Silent {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        listener.set_nonblocking(true).unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (a, s) = (accepted.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let held: Mutex<Vec<TcpStream>> = Mutex::new(Vec::new());
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        a.fetch_add(1, Ordering::SeqCst);
                        held.lock().unwrap().push(conn);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Self {
            url,
            accepted,
            stop,
            thread: Some(thread),
        }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

const ANSWERS: &str = "name = \"staging\"\nregion = \"us-east-1\"\ndomainName = \"example.com\"\n\
    [certificates]\nwait = true\nwait_timeout_minutes = 1\n\
    [server]\nsupportEmail = \"support@example.com\"\n";

/// Waits for `child` to exit, at most `limit`; its exit code and stderr.
fn finish(mut child: Child, limit: Duration) -> (Option<i32>, String) {
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            s.push_str(&line);
            s.push('\n');
        }
        s
    });
    let mut status = None;
    let exited = wait_until(limit, || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    if !exited {
        let _ = child.kill();
        let _ = child.wait();
    }
    (status.and_then(|s| s.code()), reader.join().unwrap())
}

#[test]
fn a_headless_install_against_a_silent_endpoint_ends_at_the_call_timeout_naming_the_call() {
    let server = Silent::start();
    let dir = tempfile::tempdir().unwrap();
    answers(dir.path(), ANSWERS);
    let started = Instant::now();
    let child = cmd(dir.path())
        .envs(aws_env(&server.url))
        .args(["--answers", "answers.toml", "--yes", "--output", "plain"])
        .args(["--aws-call-timeout", "3s", "--aws-attempt-timeout", "1s"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (code, err) = finish(child, Duration::from_secs(60));
    let took = started.elapsed();
    assert_eq!(code, Some(1), "{err}");
    // The call timeout bounds the call (3 s), not five attempts of the old 60 s each.
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_secs(15),
        "took {took:?}\n{err}"
    );
    assert!(
        server.accepted() >= 2,
        "the 1 s attempt timeout retries on a new connection: {} accepted",
        server.accepted()
    );
    assert!(err.contains("AWS identity"), "the step is named:\n{err}");
    assert!(
        err.contains("sts:GetCallerIdentity"),
        "the call is named:\n{err}"
    );
    assert!(err.contains("no answer in time"), "{err}");
    assert!(
        err.contains("--aws-call-timeout"),
        "the hint names the setting:\n{err}"
    );
}

#[test]
fn ctrl_c_during_a_hung_call_exits_130_at_once() {
    let server = Silent::start();
    let dir = tempfile::tempdir().unwrap();
    answers(dir.path(), ANSWERS);
    // The limits through the environment this time; a minute each, so only Ctrl-C can end it.
    let child = cmd(dir.path())
        .envs(aws_env(&server.url))
        .env("MEDPLUM_INIT_AWS_CALL_TIMEOUT", "1m")
        .env("MEDPLUM_INIT_AWS_ATTEMPT_TIMEOUT", "1m")
        .args(["--answers", "answers.toml", "--yes", "--output", "plain"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(30), || server.accepted() >= 1),
        "the install never called the endpoint"
    );
    // The request is written right after the connect; give it a moment to be waiting on it.
    std::thread::sleep(Duration::from_millis(300));
    let sent = Instant::now();
    interrupt(&child);
    let (code, err) = finish(child, Duration::from_secs(30));
    let took = sent.elapsed();
    assert_eq!(code, Some(130), "{err}");
    assert!(
        took < Duration::from_secs(2),
        "exit {took:?} after SIGINT\n{err}"
    );
    assert!(err.contains("interrupted"), "{err}");
    assert!(
        !err.contains("no answer in time"),
        "it did not wait the call out:\n{err}"
    );
}

/// SIGINT, as Ctrl-C sends it.
fn interrupt(child: &Child) {
    let ok = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -INT failed");
}

const STACK: &str = "MedplumStaging";

#[test]
fn a_deploy_whose_event_reads_hang_gives_up_after_the_cap_and_the_next_deploy_completes() {
    let emu = Moto::emulator();
    create_zone(&emu, "example.com");
    let proxy = FaultProxy::start(&emu, &[]);
    let dir = tempfile::tempdir().unwrap();
    answers(dir.path(), ANSWERS);
    let out = cmd(dir.path())
        .envs(proxy.env())
        .args(["--answers", "answers.toml", "--yes", "--output", "plain"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let deploy = |extra: &[&str]| {
        let mut c = cmd(dir.path());
        c.envs(proxy.env())
            .args(["deploy", "--yes", "--output", "plain"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        c.spawn().unwrap()
    };
    let child = deploy(&[
        "--aws-call-timeout",
        "2s",
        "--aws-attempt-timeout",
        "1s",
        "--max-poll-failures",
        "3",
    ]);
    // Once the execution has started, every call hangs: the monitor's reads among them.
    let executed = || {
        proxy
            .log()
            .iter()
            .any(|r| r["operation"] == "ExecuteChangeSet" && r["status"] == 200)
    };
    assert!(
        wait_until(Duration::from_secs(120), executed),
        "the deploy never executed its change set"
    );
    proxy.configure(serde_json::json!({"hang": true}));
    let (code, err) = finish(child, Duration::from_secs(120));
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&format!("lost track of {STACK}: 3 reads")),
        "the error says what was lost and after how many reads:\n{err}"
    );
    assert!(err.contains("cloudformation:DescribeStackEvents"), "{err}");
    assert!(err.contains("no answer in time"), "{err}");
    assert!(err.contains("run `medplum-init deploy` again"), "{err}");
    let hung = proxy.log().iter().filter(|r| r["fault"] == "hang").count();
    assert!(hung >= 3, "{hung} hung calls");

    // The endpoint answers again: the next deploy follows the stack to where it settled.
    proxy.configure(serde_json::json!({"hang": false}));
    let (code, err) = finish(deploy(&[]), Duration::from_secs(300));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        stack_status(&emu, "us-east-1", STACK).as_deref(),
        Some("CREATE_COMPLETE"),
        "{err}"
    );
}
