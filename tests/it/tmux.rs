//! Driving the real binary in a real terminal: a tmux server of its own per test (`tmux -L`,
//! so tests run in parallel), keys sent with `send-keys`, the screen read with `capture-pane`,
//! and every wait a poll with a deadline, never a fixed sleep (fzf's approach).
//!
//! The program runs under `env -i` with only what the test passes, so nothing of the developer's
//! AWS setup leaks in. A wrapper records its exit code and then keeps the pane open, so the
//! terminal's state after exit (alternate screen, cursor) can be checked.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::harness::bin;

static NEXT: AtomicUsize = AtomicUsize::new(0);

pub struct Tmux {
    socket: String,
    exit_file: PathBuf,
    /// Keep screens for docs/tour.md (see tui.rs).
    pub tour: bool,
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

impl Tmux {
    /// Starts `medplum-init args` in `dir` on a `w`×`h` terminal with exactly `env`.
    pub fn start(dir: &Path, env: &[(String, String)], args: &[&str], w: u16, h: u16) -> Self {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let socket = format!("medplum-init-test-{}-{n}", std::process::id());
        let exit_file = dir.join(format!(".exit-code-{n}"));
        let _ = std::fs::remove_file(&exit_file);
        let mut vars = vec![
            ("PATH".to_string(), "/usr/bin:/bin".to_string()),
            ("HOME".to_string(), dir.display().to_string()),
            ("TERM".to_string(), "xterm-256color".to_string()),
            ("LANG".to_string(), "C.UTF-8".to_string()),
            // As `harness::cmd`: no deploy here publishes the web app from the npm registry.
            ("MEDPLUM_INIT_SKIP_APP".to_string(), "1".to_string()),
        ];
        vars.extend(env.iter().cloned());
        let assignments: Vec<String> = vars
            .iter()
            .map(|(k, v)| format!("{k}={}", quote(v)))
            .collect();
        let argv: Vec<String> = args.iter().map(|a| quote(a)).collect();
        let script = format!(
            "cd {dir}\nenv -i {vars} {bin} {args}\necho $? > {exit}\nexec sleep 3600\n",
            dir = quote(&dir.display().to_string()),
            vars = assignments.join(" "),
            bin = quote(&bin().display().to_string()),
            args = argv.join(" "),
            exit = quote(&exit_file.display().to_string()),
        );
        let script_path = dir.join(format!(".run-{n}.sh"));
        std::fs::write(&script_path, script).unwrap();
        let status = Command::new("tmux")
            .args(["-L", &socket, "-f", "/dev/null", "new-session", "-d"])
            .args(["-x", &w.to_string(), "-y", &h.to_string()])
            .arg(format!("sh {}", quote(&script_path.display().to_string())))
            .status()
            .expect("tmux is installed");
        assert!(status.success(), "tmux new-session failed");
        Self {
            socket,
            exit_file,
            tour: false,
        }
    }

    fn tmux(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]);
        c
    }

    /// Sends tmux key names: `Enter`, `Tab`, `PgDn`, `C-c`, `End`.
    pub fn keys(&self, keys: &[&str]) {
        let ok = self
            .tmux()
            .args(["send-keys", "-t", "0"])
            .args(keys)
            .status()
            .unwrap()
            .success();
        assert!(ok, "send-keys {keys:?}");
    }

    /// Types `text` literally.
    pub fn text(&self, text: &str) {
        let ok = self
            .tmux()
            .args(["send-keys", "-t", "0", "-l", text])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    pub fn screen(&self) -> String {
        let out = self
            .tmux()
            // -J joins lines the terminal wrapped, so a long line reads as one.
            .args(["capture-pane", "-p", "-J", "-t", "0"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `tmux display -p FORMAT`, e.g. `#{alternate_on}`.
    pub fn display(&self, format: &str) -> String {
        let out = self
            .tmux()
            .args(["display", "-p", "-t", "0", format])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Polls the screen until `pred` holds; panics with the last screen after `timeout`.
    pub fn until(&self, what: &str, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            if let Some(code) = self.exit_code() {
                panic!("the program exited ({code}) while waiting for {what}:\n{s}");
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; the screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the screen shows `needle`.
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> String {
        self.until(needle, timeout, |s| s.contains(needle))
    }

    pub fn exit_code(&self) -> Option<i32> {
        std::fs::read_to_string(&self.exit_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }

    /// Waits for the program to exit and returns its code.
    pub fn wait_exit(&self, timeout: Duration) -> i32 {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(c) = self.exit_code() {
                return c;
            }
            if Instant::now() > deadline {
                panic!("the program did not exit; the screen:\n{}", self.screen());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether the terminal is back to normal: main screen, cursor shown.
    pub fn assert_restored(&self) {
        assert_eq!(
            self.display("#{alternate_on}"),
            "0",
            "still on the alternate screen"
        );
        assert_eq!(self.display("#{cursor_flag}"), "1", "the cursor is hidden");
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux().arg("kill-server").status();
    }
}
