//! Test harness: an emulator per test (moto extended, `scripts/emulator`) on a free loopback
//! port, and the real binary run against it through the normal endpoint override. Nothing here reaches a real AWS endpoint: every
//! process gets dummy credentials, no profile, and `AWS_ENDPOINT_URL` pointing at loopback.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A tool from the project's Python venv (moto_server, cfn-lint), else from PATH.
pub fn venv_tool(name: &str) -> PathBuf {
    let p = root().join(".venv/bin").join(name);
    if p.exists() { p } else { PathBuf::from(name) }
}

/// The port in the emulator's ready line (`emulator: listening on http://127.0.0.1:N`).
fn ready_port(log: &str) -> Option<u16> {
    let line = log
        .lines()
        .find(|l| l.contains("listening on http://127.0.0.1:"))?;
    line.rsplit(':')
        .next()?
        .trim()
        .trim_end_matches('/')
        .parse()
        .ok()
}

/// A request to a loopback port with an optional JSON body; the whole response, or None.
fn http(port: u16, method: &str, path: &str, body: Option<&str>) -> Option<String> {
    let mut s =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(500))
            .ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

fn http_get(port: u16, path: &str) -> Option<String> {
    http(port, "GET", path, None)
}

/// The JSON body of an emulator control call that answered 200.
fn control(port: u16, method: &str, path: &str, body: Option<&str>) -> serde_json::Value {
    let resp = http(port, method, path, body)
        .unwrap_or_else(|| panic!("emulator {method} {path}: no answer"));
    let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
    assert!(head.contains(" 200 "), "emulator {method} {path}: {resp}");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("emulator {method} {path}: {e}: {body}"))
}

/// Starts `cmd` (a loopback server script: the emulator, the fault proxy) with its stderr in a
/// log file, and waits for its ready line (`... listening on http://127.0.0.1:N`): the child,
/// its port, and the log, which the caller removes.
fn start_ready(mut cmd: Command, what: &str, wait: Duration) -> (Child, u16, PathBuf) {
    let log = tempfile::Builder::new()
        .prefix(&format!("{what}-"))
        .suffix(".log")
        .tempfile()
        .expect("log file")
        .into_temp_path()
        .keep()
        .expect("keep the log");
    cmd.stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    let mut child = cmd.spawn().unwrap_or_else(|e| {
        panic!("cannot start scripts/{what}: {e} (run `bash .ci/setup` first)")
    });
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(port) = ready_port(&text) {
            return (child, port, log);
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("scripts/{what} exited ({status}):\n{text}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!(
        "scripts/{what} did not come up:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}

/// An emulator of its own, stopped on drop: `scripts/emulator`, moto in server mode extended
/// with the resource types the Medplum stacks use, CloudFormation's rules, asynchronous stack
/// operations and fault injection (docs/testing.md).
pub struct Moto {
    pub port: u16,
    pub url: String,
    child: Child,
    /// The emulator's stderr, removed on drop.
    log: PathBuf,
}

impl Moto {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// `env` tunes moto, e.g. `MOTO_ACM_VALIDATION_WAIT`. Every test runs against the emulator:
    /// bare moto is more lenient than CloudFormation (parameter patterns, empty change sets,
    /// synchronous execution), and a test that passes only because of that proves nothing.
    pub fn start_with(env: &[(&str, &str)]) -> Self {
        Self::emulator_with(env)
    }

    /// The emulator (`scripts/emulator --port 0`): it picks its own free port and names it in
    /// its ready line, so there is no race for the port. Its log goes to a file that a failing
    /// test can print ([`Moto::log`]).
    pub fn emulator() -> Self {
        Self::emulator_with(&[])
    }

    /// The emulator with `env` (e.g. `MEDPLUM_EMULATOR_RESOURCE_DELAY`, `MEDPLUM_EMULATOR_FAULTS`).
    pub fn emulator_with(env: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(root().join("scripts/emulator"));
        cmd.args(["--port", "0"]);
        cmd.env("MOTO_ACM_VALIDATION_WAIT", "1");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let (child, port, log) = start_ready(cmd, "emulator", Duration::from_secs(60));
        Moto {
            port,
            url: format!("http://127.0.0.1:{port}"),
            child,
            log,
        }
    }

    /// What the emulator wrote to stderr so far (its ready line, and any crash).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Replaces the emulator's fault rules (see docs/testing.md), e.g.
    /// `[{"logicalId": "X", "on": "create", "reason": "..."}]`.
    pub fn set_faults(&self, rules: serde_json::Value) {
        control(
            self.port,
            "POST",
            "/medplum-emulator/faults",
            Some(&rules.to_string()),
        );
    }

    /// What the operator does outside AWS for an SES identity: the address's link opened, the
    /// domain's DKIM records published (moto never verifies one by itself).
    pub fn verify_ses_identity(&self, identity: &str) {
        control(
            self.port,
            "POST",
            "/medplum-emulator/ses/verify",
            Some(&serde_json::json!({ "identity": identity }).to_string()),
        );
    }

    /// A stack resource changed (`MODIFIED`) or deleted (`DELETED`) outside CloudFormation, as
    /// drift detection will find it.
    pub fn drift(&self, stack: &str, logical_id: &str, status: &str) {
        control(
            self.port,
            "POST",
            "/medplum-emulator/drift",
            Some(
                &serde_json::json!({
                    "stack": stack,
                    "logicalId": logical_id,
                    "status": status,
                    "property": "/Properties/Tags",
                })
                .to_string(),
            ),
        );
    }

    /// Every CloudFormation call the emulator received with `action`, oldest first.
    pub fn requests(&self, action: &str) -> Vec<serde_json::Value> {
        let v = control(
            self.port,
            "GET",
            &format!("/medplum-emulator/requests?action={action}"),
            None,
        );
        v["requests"].as_array().cloned().unwrap_or_default()
    }

    /// The S3 object writes and CloudFront invalidations the emulator answered, in answer order
    /// (`action` `PutObject`, `DeleteObject`, `CreateInvalidation`, or `""` for all).
    pub fn delivery(&self, action: &str) -> Vec<serde_json::Value> {
        let v = control(
            self.port,
            "GET",
            &format!("/medplum-emulator/delivery?action={action}"),
            None,
        );
        v["requests"].as_array().cloned().unwrap_or_default()
    }

    /// Environment for anything that talks to this moto: dummy credentials, a fixed region, no
    /// profile or config file, and every endpoint overridden.
    pub fn env(&self) -> Vec<(String, String)> {
        aws_env(&self.url)
    }

    /// An SDK config for assertions made directly against moto.
    pub async fn sdk(&self, region: &str) -> aws_config::SdkConfig {
        let creds =
            aws_credential_types::Credentials::new("testing", "testing", None, None, "test");
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(region.to_string()))
            .endpoint_url(&self.url)
            .credentials_provider(creds)
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .load()
            .await
    }
}

/// Dummy credentials, a fixed region, no profile or config file, and every endpoint sent to
/// `url` (a loopback emulator, proxy or test server).
pub fn aws_env(url: &str) -> Vec<(String, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
        ("AWS_SESSION_TOKEN".into(), "testing".into()),
        ("AWS_REGION".into(), "us-east-1".into()),
        ("AWS_ENDPOINT_URL".into(), url.to_string()),
        ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        ("AWS_CONFIG_FILE".into(), "/dev/null".into()),
        ("AWS_SHARED_CREDENTIALS_FILE".into(), "/dev/null".into()),
        ("NO_PROXY".into(), "127.0.0.1,localhost".into()),
    ]
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// The medplum-init binary built for these tests.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_medplum-init"))
}

/// A `Command` for the binary with a clean environment: no real AWS settings can leak in.
pub fn cmd(dir: &Path) -> Command {
    let mut c = Command::new(bin());
    c.current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_")
            || k.starts_with("MEDPLUM_INIT_")
            || k == "NO_COLOR"
            || k == "CLICOLOR_FORCE"
        {
            c.env_remove(k);
        }
    }
    // A deploy ends by publishing the web app from the npm registry, which the tests do not
    // reach: only tests/it/app.rs (with its loopback registry) lets a deploy publish it.
    c.env("MEDPLUM_INIT_SKIP_APP", "1");
    c.env("HOME", dir)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
    c.stdin(Stdio::null());
    c
}

/// Runs the binary against `moto` in `dir`.
pub fn run_against(moto: &Moto, dir: &Path, args: &[&str]) -> Output {
    let mut c = cmd(dir);
    c.envs(moto.env()).args(args);
    c.output().expect("run medplum-init")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Polls `f` until it returns true or `timeout` passes; no fixed sleeps in tests.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A tokio runtime for SDK assertions inside sync tests.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A CloudFormation client of `moto` in `region`, for assertions.
pub fn cfn(moto: &Moto, region: &str) -> aws_sdk_cloudformation::Client {
    aws_sdk_cloudformation::Client::new(&rt().block_on(moto.sdk(region)))
}

/// The stack's status, or None when it does not exist.
pub fn stack_status(moto: &Moto, region: &str, name: &str) -> Option<String> {
    let c = cfn(moto, region);
    rt().block_on(async {
        let out = c.describe_stacks().stack_name(name).send().await.ok()?;
        out.stacks()
            .first()
            .and_then(|s| s.stack_status())
            .map(|s| s.as_str().to_string())
    })
}

/// The stack's resources as (logical id, type, physical id).
pub fn stack_resources(moto: &Moto, region: &str, name: &str) -> Vec<(String, String, String)> {
    let c = cfn(moto, region);
    rt().block_on(async {
        let out = c
            .describe_stack_resources()
            .stack_name(name)
            .send()
            .await
            .unwrap();
        out.stack_resources()
            .iter()
            .map(|r| {
                (
                    r.logical_resource_id().unwrap_or_default().to_string(),
                    r.resource_type().unwrap_or_default().to_string(),
                    r.physical_resource_id().unwrap_or_default().to_string(),
                )
            })
            .collect()
    })
}

/// Starts a headless install in `dir` that stops dead right after `point` (see
/// `MEDPLUM_INIT_TEST_PAUSE_AFTER`), then SIGKILLs it: no destructors, no flush, no cleanup.
/// Returns whether the point was reached.
pub fn kill_install_at(moto: &Moto, dir: &Path, point: &str) -> bool {
    kill_at(moto, dir, &["--answers", "answers.toml", "--yes"], point)
}

/// Runs the binary with `args` in `dir` until it stops dead right after `point`, then SIGKILLs
/// it. Returns whether the point was reached.
pub fn kill_at(moto: &Moto, dir: &Path, args: &[&str], point: &str) -> bool {
    use std::io::BufRead;
    let mut child = cmd(dir)
        .envs(moto.env())
        .env("MEDPLUM_INIT_TEST_PAUSE_AFTER", point)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let reached = std::io::BufReader::new(child.stderr.take().unwrap())
        .lines()
        .any(|l| l.unwrap().starts_with("test-pause:"));
    child.kill().unwrap();
    child.wait().unwrap();
    reached
}

/// Writes an answers file into `dir` and returns its path.
pub fn answers(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("answers.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// The fault-injecting proxy (`scripts/fault-proxy`, docs/testing.md) between the binary and an
/// emulator, stopped on drop: seeded 500s, 503s, each service's own throttling error, slow
/// answers, dropped connections, or (`hang`) connections that are never answered.
pub struct FaultProxy {
    pub port: u16,
    pub url: String,
    child: Child,
    log: PathBuf,
}

impl FaultProxy {
    /// A proxy in front of `upstream`; `args` as on the command line (`--seed 7 --rate 0.2`).
    pub fn start(upstream: &Moto, args: &[&str]) -> Self {
        let mut cmd = Command::new(root().join("scripts/fault-proxy"));
        cmd.args(["--port", "0", "--upstream", &upstream.url])
            .args(args);
        let (child, port, log) = start_ready(cmd, "fault-proxy", Duration::from_secs(30));
        FaultProxy {
            port,
            url: format!("http://127.0.0.1:{port}"),
            child,
            log,
        }
    }

    /// `POST /fault-proxy/config` with any subset (`{"rate": 1, "faults": "throttle"}`).
    pub fn configure(&self, config: serde_json::Value) -> serde_json::Value {
        control(
            self.port,
            "POST",
            "/fault-proxy/config",
            Some(&config.to_string()),
        )
    }

    /// Every request the proxy decided on, oldest first (seq, service, operation, fault, status).
    pub fn log(&self) -> Vec<serde_json::Value> {
        let v = control(self.port, "GET", "/fault-proxy/log", None);
        v["requests"].as_array().cloned().unwrap_or_default()
    }

    /// `{"requests", "answered", "refused", "faulted", "tripped"}`.
    pub fn count(&self) -> serde_json::Value {
        control(self.port, "GET", "/fault-proxy/count", None)
    }

    /// Arms the kill switch (docs/testing.md, "Crash matrix"): the process named next with
    /// [`FaultProxy::kill_pid`] is SIGKILLed right after the `after`-th answer since the last
    /// reset, and every later request is refused. Until the pid comes, answers are held.
    pub fn arm_kill_after(&self, after: u64) -> serde_json::Value {
        self.kill_after(serde_json::json!({ "after": after }))
    }

    /// The second step of [`FaultProxy::arm_kill_after`]: the process to kill, once it exists.
    pub fn kill_pid(&self, pid: u32) -> serde_json::Value {
        self.kill_after(serde_json::json!({ "pid": pid }))
    }

    /// Disarms and un-trips the kill switch, so the next run goes through.
    pub fn clear_kill(&self) -> serde_json::Value {
        self.kill_after(serde_json::json!({ "clear": true }))
    }

    /// `{"armed", "tripped", "fired"}`.
    pub fn kill_state(&self) -> serde_json::Value {
        control(self.port, "GET", "/fault-proxy/kill-after", None)
    }

    fn kill_after(&self, body: serde_json::Value) -> serde_json::Value {
        control(
            self.port,
            "POST",
            "/fault-proxy/kill-after",
            Some(&body.to_string()),
        )
    }

    /// [`aws_env`] with every endpoint sent through the proxy.
    pub fn env(&self) -> Vec<(String, String)> {
        aws_env(&self.url)
    }

    /// What the proxy wrote to stderr (its ready line, and any crash).
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// Creates the public hosted zone `name` in `moto` (certificate validation and DNS records go
/// there).
pub fn create_zone(moto: &Moto, name: &str) {
    rt().block_on(async {
        let r53 = aws_sdk_route53::Client::new(&moto.sdk("us-east-1").await);
        r53.create_hosted_zone()
            .name(name)
            .caller_reference(format!("zone-{name}"))
            .send()
            .await
            .unwrap();
    });
}
