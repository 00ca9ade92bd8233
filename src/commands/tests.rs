//! The shared bootstrap and the phase driver: where a command's environment comes from, and
//! that the phases run in order, stop at the first error with its outcome, and stop when
//! `confirm` says so.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::*;
use crate::cli::TargetArgs;

fn target(env: Option<&str>, dir: &str, config: Option<&str>) -> TargetArgs {
    TargetArgs {
        env: env.map(str::to_string),
        dir: PathBuf::from(dir),
        config: config.map(PathBuf::from),
    }
}

#[test]
fn config_gives_the_folder_and_the_environment() {
    let loc = Location::given(&target(
        None,
        ".",
        Some("some/where/medplum.prod.config.json"),
    ))
    .unwrap();
    assert_eq!(loc.dir, Path::new("some/where"));
    assert_eq!(loc.env.as_deref(), Some("prod"));
    assert_eq!(
        loc.config_file().unwrap(),
        Path::new("some/where/medplum.prod.config.json")
    );
    // A bare file name lives in the working folder.
    let loc = Location::given(&target(None, ".", Some("medplum.prod.config.json"))).unwrap();
    assert_eq!(loc.dir, Path::new("."));
    // Another name: the folder, and the environment from the file's `name` later.
    let loc = Location::given(&target(None, ".", Some("x/cfg.json"))).unwrap();
    assert_eq!((loc.dir.as_path(), loc.env), (Path::new("x"), None));
}

#[test]
fn env_and_dir_name_the_config_file() {
    let loc = Location::given(&target(Some("staging"), "d", None)).unwrap();
    assert_eq!(
        loc.config_file().unwrap(),
        Path::new("d/medplum.staging.config.json")
    );
}

#[test]
fn a_bad_environment_name_is_a_usage_error_before_any_path_is_built() {
    for env in ["../../x", "a/b", "", "UPPER", "x\u{1b}[31m"] {
        let e = Location::given(&target(Some(env), ".", None)).unwrap_err();
        assert_eq!(e.outcome, Outcome::Invalid, "{env:?}");
        assert!(e.message.starts_with("--env: "), "{}", e.message);
        assert!(!e.message.contains('\u{1b}'), "{}", e.message);
        assert!(e.hint.is_some());
    }
    let e = Location::given(&target(None, ".", Some("medplum.A_B.config.json"))).unwrap_err();
    assert!(e.message.starts_with("--config: "), "{}", e.message);
}

#[test]
fn env_and_config_must_agree() {
    let e = Location::given(&target(
        Some("prod"),
        ".",
        Some("medplum.staging.config.json"),
    ))
    .unwrap_err();
    assert_eq!(e.outcome, Outcome::Invalid);
    assert!(
        e.message.contains("different environments"),
        "{}",
        e.message
    );
}

#[test]
fn an_existing_config_is_found_when_it_is_the_only_one() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let e = Location::existing(&target(None, d, None)).unwrap_err();
    assert_eq!(e.outcome, Outcome::Invalid);
    assert!(
        e.message.contains("no medplum.<env>.config.json"),
        "{}",
        e.message
    );
    std::fs::write(dir.path().join("medplum.staging.config.json"), "{}").unwrap();
    // Not configs: the server config, and a name that is no environment.
    std::fs::write(dir.path().join("medplum.staging.config.server.json"), "{}").unwrap();
    std::fs::write(dir.path().join("medplum.Bad_Env.config.json"), "{}").unwrap();
    let loc = Location::existing(&target(None, d, None)).unwrap();
    assert_eq!(loc.env.as_deref(), Some("staging"));
    std::fs::write(dir.path().join("medplum.prod.config.json"), "{}").unwrap();
    let e = Location::existing(&target(None, d, None)).unwrap_err();
    assert!(e.message.contains("prod, staging"), "{}", e.message);
}

/// A command that records its phases and fails (or stops) where it is told to.
struct Probe {
    log: Arc<Mutex<Vec<&'static str>>>,
    fail_at: Option<&'static str>,
    stop: bool,
}

struct ProbeArgs {
    log: Arc<Mutex<Vec<&'static str>>>,
    fail_at: Option<&'static str>,
    stop: bool,
}

impl Probe {
    fn step(&self, phase: &'static str) -> Result<(), CommandError> {
        self.log.lock().unwrap().push(phase);
        if self.fail_at == Some(phase) {
            let outcome = if phase == "validate" {
                Outcome::Invalid
            } else {
                Outcome::Failed
            };
            return Err(CommandError {
                message: format!("{phase} failed"),
                hint: None,
                outcome,
                details: None,
            });
        }
        Ok(())
    }
}

impl Command for Probe {
    type Args = ProbeArgs;
    type Plan = ();
    type Applied = ();

    fn resolve(a: ProbeArgs, _cx: &Cx) -> Result<Self, CommandError> {
        let p = Probe {
            log: a.log,
            fail_at: a.fail_at,
            stop: a.stop,
        };
        p.step("resolve")?;
        Ok(p)
    }
    fn validate(&mut self, _cx: &Cx) -> Result<(), CommandError> {
        self.step("validate")
    }
    async fn plan(&mut self, _cx: &Cx) -> Result<(), CommandError> {
        self.step("plan")
    }
    async fn confirm(&mut self, _cx: &Cx, _p: ()) -> Result<Confirmed<()>, CommandError> {
        self.step("confirm")?;
        Ok(if self.stop {
            Confirmed::Stop(Outcome::Done)
        } else {
            Confirmed::Go(())
        })
    }
    async fn apply(&mut self, _cx: &Cx, _p: ()) -> Result<(), CommandError> {
        self.step("apply")
    }
    async fn report(&mut self, _cx: &Cx, _a: ()) -> Outcome {
        let _ = self.step("report");
        Outcome::Done
    }
}

/// A front end that draws nothing: the driver itself draws and asks nothing. When a command
/// asks for text (destroy's name), it types `typed`.
#[derive(Default)]
pub(crate) struct Unused {
    pub typed: Option<&'static str>,
}

#[async_trait::async_trait(?Send)]
impl FrontEnd for Unused {
    fn install_renderer(&self, _: &Printer) -> Box<dyn crate::ui::Renderer> {
        unreachable!("the driver renders nothing")
    }
    fn deploy_renderer(&self, _: &Printer) -> Box<dyn crate::ui::deploy::DeployRenderer> {
        unreachable!("the driver renders nothing")
    }
    fn diff_text(
        &self,
        _: &[crate::deploy::changeset::StackDiff],
        _: crate::printer::Style,
    ) -> String {
        unreachable!("the driver shows no diff")
    }
    fn failure_recap(
        &self,
        _: &[crate::deploy::event::FailureRecap],
        _: crate::printer::Style,
    ) -> String {
        unreachable!("the driver shows no recap")
    }
    fn spawn_deploy_screen(
        &self,
        _: tokio::sync::mpsc::UnboundedReceiver<crate::deploy::event::DeployEvent>,
        _: Cancel,
    ) -> tokio::task::JoinHandle<std::io::Result<crate::ui::ScreenEnd>> {
        unreachable!("the driver opens no screen")
    }
    fn confirm(&self, _: &str, _: &str, _: bool) -> Result<bool, String> {
        unreachable!("the driver asks nothing")
    }
    fn ask_text(&self, _: &str, _: &str) -> Result<String, String> {
        Ok(self.typed.expect("the driver asks nothing").to_string())
    }
    async fn guided(
        &self,
        _: crate::guided::GuidedOptions,
        _: OutputMode,
        _: Arc<dyn crate::ui::handoff::DeployHandoff>,
    ) -> Outcome {
        unreachable!("the driver runs no install")
    }
}

fn cx() -> Cx {
    typing(None)
}

/// A plain-output context whose front end types `typed` when asked.
pub(crate) fn typing(typed: Option<&'static str>) -> Cx {
    Cx::new(
        &crate::cli::OutputArgs {
            output: Some(OutputMode::Plain),
        },
        &crate::cli::AwsArgs::default(),
        Arc::new(Unused { typed }),
    )
}

fn drive_probe(fail_at: Option<&'static str>, stop: bool) -> (Vec<&'static str>, Outcome) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let args = ProbeArgs {
        log: log.clone(),
        fail_at,
        stop,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let outcome = rt.block_on(drive::<Probe>(args, &cx()));
    let phases = log.lock().unwrap().clone();
    (phases, outcome)
}

#[test]
fn the_phases_run_in_order() {
    let (phases, outcome) = drive_probe(None, false);
    assert_eq!(
        phases,
        ["resolve", "validate", "plan", "confirm", "apply", "report"]
    );
    assert_eq!(outcome, Outcome::Done);
}

#[test]
fn the_first_error_ends_the_command_with_its_outcome() {
    let (phases, outcome) = drive_probe(Some("validate"), false);
    assert_eq!(phases, ["resolve", "validate"]);
    assert_eq!(outcome.exit_code(), 2);
    let (phases, outcome) = drive_probe(Some("plan"), false);
    assert_eq!(phases, ["resolve", "validate", "plan"]);
    assert_eq!(outcome.exit_code(), 1);
}

#[test]
fn a_declined_confirmation_applies_nothing() {
    let (phases, outcome) = drive_probe(None, true);
    assert_eq!(phases, ["resolve", "validate", "plan", "confirm"]);
    assert_eq!(outcome, Outcome::Done);
}
