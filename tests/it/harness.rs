//! Test harness: a moto server per test on a free loopback port, and the real binary run against
//! it through the normal endpoint override. Nothing here reaches a real AWS endpoint: every
//! process gets dummy credentials, no profile, and `AWS_ENDPOINT_URL` pointing at loopback.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
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

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind a loopback port")
        .local_addr()
        .unwrap()
        .port()
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200))
            .ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// A moto server of its own, stopped on drop.
pub struct Moto {
    pub port: u16,
    pub url: String,
    child: Child,
}

impl Moto {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// `env` tunes moto, e.g. `MOTO_ACM_VALIDATION_WAIT`.
    pub fn start_with(env: &[(&str, &str)]) -> Self {
        let server = venv_tool("moto_server");
        for _attempt in 0..3 {
            let port = free_port();
            let mut cmd = Command::new(&server);
            cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            cmd.env("MOTO_ACM_VALIDATION_WAIT", "1");
            for (k, v) in env {
                cmd.env(k, v);
            }
            let child = cmd.spawn().unwrap_or_else(|e| {
                panic!(
                    "cannot start {}: {e} (run .ci/run once, or `bash .ci/setup`)",
                    server.display()
                )
            });
            let mut moto = Moto {
                port,
                url: format!("http://127.0.0.1:{port}"),
                child,
            };
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if http_get(port, "/moto-api/")
                    .is_some_and(|r| r.starts_with("HTTP/1.") && r.contains(" 200 "))
                {
                    return moto;
                }
                if let Ok(Some(_)) = moto.child.try_wait() {
                    break; // the port was taken between our probe and its bind; try another
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = moto.child.kill();
        }
        panic!("moto_server did not come up");
    }

    /// Environment for anything that talks to this moto: dummy credentials, a fixed region, no
    /// profile or config file, and every endpoint overridden.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
            ("AWS_SESSION_TOKEN".into(), "testing".into()),
            ("AWS_REGION".into(), "us-east-1".into()),
            ("AWS_ENDPOINT_URL".into(), self.url.clone()),
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
            ("AWS_CONFIG_FILE".into(), "/dev/null".into()),
            ("AWS_SHARED_CREDENTIALS_FILE".into(), "/dev/null".into()),
            ("NO_PROXY".into(), "127.0.0.1,localhost".into()),
        ]
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

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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
        if k.starts_with("AWS_") || k == "NO_COLOR" || k == "CLICOLOR_FORCE" {
            c.env_remove(k);
        }
    }
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

/// Writes an answers file into `dir` and returns its path.
pub fn answers(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("answers.toml");
    std::fs::write(&p, text).unwrap();
    p
}
