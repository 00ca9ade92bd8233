//! The commands, each a library function with the same phases, run in this order by [`drive`]:
//!
//! 1. **resolve**: the environment, the config, AWS settings and the output mode, from one shared
//!    bootstrap ([`Cx`], [`Location`]); no AWS call.
//! 2. **validate**: everything that can be checked offline, before the first AWS call.
//! 3. **plan**: what would be done (change sets, the steps' calls); may read AWS.
//! 4. **confirm**: `--yes`, a question through the front end, or a refusal; never a prompt made
//!    here directly.
//! 5. **apply**: do it.
//! 6. **report**: what happened and what is left to do, through the [`Printer`].
//!
//! Each phase returns a [`CommandError`] (any library error converts, see
//! [`crate::error::Diagnostic`]) or moves on; the command ends with an [`Outcome`], whose
//! `exit_code()` is the only mapping to the process's exit code. Commands reach the terminal only
//! through the printer and the [`FrontEnd`] they are given.

pub mod answers_template;
pub mod app;
pub mod deploy;
pub mod destroy;
pub mod init;
pub mod list;
pub mod rotate;
pub mod status;
pub mod step;
pub mod synth;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::aws::AwsSettings;
use crate::cli::{AwsArgs, OutputArgs, TargetArgs};
use crate::config::infra::config_file_name;
use crate::engine::Cancel;
pub use crate::error::CommandError;
pub use crate::outcome::Outcome;
use crate::printer::{OutputMode, Printer};
use crate::ui::FrontEnd;

/// What every command starts from: where its text goes, whether a person is at the terminal,
/// how to reach AWS, and the front end that draws and asks.
#[derive(Clone)]
pub struct Cx {
    pub printer: Printer,
    /// stdin and stderr are terminals: a question can be asked.
    pub interactive: bool,
    pub aws: AwsSettings,
    pub frontend: Arc<dyn FrontEnd>,
}

impl Cx {
    /// The one bootstrap: output mode (`--output`, else the TUI on a terminal and plain lines
    /// otherwise), AWS settings, the front end.
    pub fn new(output: &OutputArgs, aws: &AwsArgs, frontend: Arc<dyn FrontEnd>) -> Self {
        let interactive = crate::printer::interactive();
        let mode = output.output.unwrap_or(if interactive {
            OutputMode::Tui
        } else {
            OutputMode::Plain
        });
        Self {
            printer: Printer::new(mode),
            interactive,
            aws: AwsSettings {
                profile: aws.profile.clone(),
                region: aws.region.clone(),
                endpoint_url: aws.endpoint_url.clone(),
                timeouts: aws.timeouts(),
            },
            frontend,
        }
    }

    pub fn mode(&self) -> OutputMode {
        self.printer.mode()
    }

    /// The same context with another output mode (a headless install renders plainly).
    pub fn with_mode(&self, mode: OutputMode) -> Self {
        let mut cx = self.clone();
        cx.printer = Printer::new(mode);
        cx
    }
}

/// The region a config's stacks live in: its `region`, else `--region`, else us-east-1.
pub(crate) fn config_region(doc: &crate::config::infra::ConfigDocument, cx: &Cx) -> String {
    doc.get_str("region")
        .map(str::to_string)
        .or_else(|| cx.aws.region.clone())
        .unwrap_or_else(|| crate::config::US_EAST_1.into())
}

/// After `confirm`: go on with the plan, or end here (declined, refused, nothing to do).
pub enum Confirmed<P> {
    Go(P),
    Stop(Outcome),
}

/// The phases of a command (see the module docs). `resolve` builds the command from its
/// arguments; the others run on it in order.
// Commands run on the runtime of `run_blocking`, one at a time: the futures need no `Send` bound
// (where one is needed, as in the install's hand-off, the concrete future is checked).
#[allow(async_fn_in_trait)]
pub trait Command: Sized {
    type Args;
    type Plan;
    type Applied;

    /// Resolve: the environment, files and settings the command works on. No AWS call.
    fn resolve(args: Self::Args, cx: &Cx) -> Result<Self, CommandError>;

    /// Validate: everything checkable offline, before the first AWS call.
    fn validate(&mut self, cx: &Cx) -> Result<(), CommandError>;

    /// Plan: what `apply` would do.
    async fn plan(&mut self, cx: &Cx) -> Result<Self::Plan, CommandError>;

    /// Confirm: `--yes`, a question, or a refusal (which cleans up what the plan left).
    async fn confirm(
        &mut self,
        cx: &Cx,
        plan: Self::Plan,
    ) -> Result<Confirmed<Self::Plan>, CommandError>;

    /// Apply the plan.
    async fn apply(&mut self, cx: &Cx, plan: Self::Plan) -> Result<Self::Applied, CommandError>;

    /// Report what happened and what is left to do; the outcome of the command.
    async fn report(&mut self, cx: &Cx, applied: Self::Applied) -> Outcome;
}

/// Runs a command's phases in order; the first error is printed (once, in the one format) and
/// ends the command with its outcome.
pub async fn drive<C: Command>(args: C::Args, cx: &Cx) -> Outcome {
    let failed = |e: CommandError| {
        cx.printer.error(&e);
        e.outcome
    };
    let mut command = match C::resolve(args, cx) {
        Ok(c) => c,
        Err(e) => return failed(e),
    };
    if let Err(e) = command.validate(cx) {
        return failed(e);
    }
    let plan = match command.plan(cx).await {
        Ok(p) => p,
        Err(e) => return failed(e),
    };
    let plan = match command.confirm(cx, plan).await {
        Ok(Confirmed::Go(p)) => p,
        Ok(Confirmed::Stop(outcome)) => return outcome,
        Err(e) => return failed(e),
    };
    match command.apply(cx, plan).await {
        Ok(applied) => command.report(cx, applied).await,
        Err(e) => failed(e),
    }
}

/// The async runtime every command runs on. Two workers: the work is AWS I/O, the RSA key is
/// made on the blocking pool, and the TUI's loop and the steps run side by side.
pub fn run_blocking(cx: &Cx, f: impl Future<Output = Outcome>) -> Outcome {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(f),
        Err(e) => {
            cx.printer.error(&CommandError::failed(
                format!("cannot start the async runtime: {e}"),
                None,
            ));
            Outcome::Failed
        }
    }
}

/// Which environment a command works on, and where its files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The folder of the config file and of `.medplum-init/<env>/`.
    pub dir: PathBuf,
    /// The environment, when the command line or the folder names one.
    pub env: Option<String>,
    /// `--config FILE` as given.
    pub config: Option<PathBuf>,
}

impl Location {
    /// From `--env`/`--dir` or `--config FILE`, the environment name checked before any path is
    /// built from it (a name like `../../x` is a usage error). No discovery: the guided install
    /// asks for the name, a headless one reads it from the answers.
    pub fn given(t: &TargetArgs) -> Result<Self, CommandError> {
        let mut loc = Location {
            dir: t.dir.clone(),
            env: t.env.clone(),
            config: t.config.clone(),
        };
        if let Some(env) = &t.env {
            check_env("--env", env)?;
        }
        if let Some(file) = &t.config {
            loc.dir = parent_dir(file);
            if let Some(from_name) = env_of_file_name(file) {
                check_env("--config", &from_name)?;
                if let Some(env) = &t.env
                    && env != &from_name
                {
                    return Err(CommandError::usage(
                        format!(
                            "--env {env} and --config {} name different environments",
                            file.display()
                        ),
                        "give one of them, or make them agree",
                    ));
                }
                loc.env = Some(from_name);
            }
        }
        Ok(loc)
    }

    /// As [`Location::given`], for a command that needs an existing config: without `--env` or
    /// `--config`, the only `medplum.<env>.config.json` in `--dir`.
    pub fn existing(t: &TargetArgs) -> Result<Self, CommandError> {
        let mut loc = Self::given(t)?;
        if loc.env.is_none() && loc.config.is_none() {
            loc.env = Some(discover(&loc.dir)?);
        }
        Ok(loc)
    }

    /// The config file: `--config` as given, else `<dir>/medplum.<env>.config.json`.
    pub fn config_file(&self) -> Option<PathBuf> {
        self.config.clone().or_else(|| {
            self.env
                .as_deref()
                .map(|env| self.dir.join(config_file_name(env)))
        })
    }
}

fn check_env(option: &str, env: &str) -> Result<(), CommandError> {
    crate::config::validators::env_name(env)
        .map_err(|(problem, fix)| CommandError::usage(format!("{option}: {problem}"), fix))
}

fn parent_dir(file: &Path) -> PathBuf {
    file.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// `medplum.<env>.config.json` → `env`; `None` for another name.
pub fn env_of_file_name(file: &Path) -> Option<String> {
    let name = file.file_name()?.to_str()?;
    let env = name
        .strip_prefix("medplum.")?
        .strip_suffix(".config.json")?;
    (!env.is_empty() && !env.contains('.')).then(|| env.to_string())
}

/// The environment of the only `medplum.<env>.config.json` in `dir`.
fn discover(dir: &Path) -> Result<String, CommandError> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        CommandError::usage(
            format!("cannot read {}: {e}", dir.display()),
            "check --dir, or pass --config FILE",
        )
    })?;
    let mut found: Vec<String> = entries
        .filter_map(|e| env_of_file_name(&e.ok()?.path()))
        .filter(|env| crate::config::validators::env_name(env).is_ok())
        .collect();
    found.sort();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(CommandError::usage(
            format!("no medplum.<env>.config.json in {}", dir.display()),
            "run the guided install first (`medplum-init`), or pass --env NAME, --dir DIR or --config FILE",
        )),
        _ => Err(CommandError::usage(
            format!("{} holds configs for {}", dir.display(), found.join(", ")),
            "choose one with --env NAME or --config FILE",
        )),
    }
}

/// A deploy-event sink whose events the front end's deploy renderer (plain log or JSON lines)
/// shows as they come; the task ends once every clone of the sink is dropped.
pub(crate) fn deploy_events(
    cx: &Cx,
) -> (
    crate::deploy::event::DeploySink,
    tokio::task::JoinHandle<()>,
) {
    let (sink, rx) = crate::deploy::event::DeploySink::channel();
    (sink, render_deploy_events(cx, rx))
}

/// The front end's deploy renderer (plain log or JSON lines) fed from `rx` until its senders are
/// gone.
pub(crate) fn render_deploy_events(
    cx: &Cx,
    rx: tokio::sync::mpsc::UnboundedReceiver<crate::deploy::event::DeployEvent>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(pump(
        rx,
        cx.frontend.deploy_renderer(&cx.printer),
        |r, e| r.render(e),
        |r| r.finish(),
    ))
}

/// Runs `work` while the full-screen deploy view shows `rx` (its senders go with `work`, so the
/// screen closes when the work ends). `None` when the user left (Ctrl-C twice) while
/// CloudFormation works on; a screen that fails is said and the work goes on (`what`: "the
/// deploy", "the delete").
pub(crate) async fn with_deploy_screen<T>(
    cx: &Cx,
    rx: tokio::sync::mpsc::UnboundedReceiver<crate::deploy::event::DeployEvent>,
    cancel: Cancel,
    what: &str,
    work: impl std::future::Future<Output = T>,
) -> Option<T> {
    let mut screen = cx.frontend.spawn_deploy_screen(rx, cancel);
    tokio::pin!(work);
    tokio::select! {
        out = &mut work => {
            if let Ok(Ok(end)) = screen.await && end.quit {
                return None;
            }
            Some(out)
        }
        end = &mut screen => {
            match end {
                Ok(Ok(end)) if end.quit => return None,
                Ok(Err(e)) => cx.printer.warn(
                    &format!("the progress screen failed ({e}); {what} goes on"),
                    None,
                ),
                _ => {}
            }
            Some(work.await)
        }
    }
}

/// The question before a command changes anything: refused without a terminal (`refusal`, with
/// `fix`), else asked through the front end; "no" changes nothing.
pub(crate) fn ask_to_apply<P>(
    cx: &Cx,
    plan: P,
    question: (&str, &str),
    refusal: (&str, &str),
) -> Result<Confirmed<P>, CommandError> {
    if !cx.interactive {
        return Err(CommandError::usage(refusal.0, refusal.1));
    }
    match cx.frontend.confirm(question.0, question.1, false) {
        Ok(true) => Ok(Confirmed::Go(plan)),
        Ok(false) => {
            cx.printer.status("Nothing was changed.");
            Ok(Confirmed::Stop(Outcome::Done))
        }
        Err(_) => Ok(Confirmed::Stop(Outcome::Interrupted)),
    }
}

/// Feeds a renderer every event until the senders are gone, then lets it finish.
pub(crate) async fn pump<E, R: ?Sized>(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<E>,
    mut renderer: Box<R>,
    render: fn(&mut R, &E),
    finish: fn(&mut R),
) {
    while let Some(ev) = rx.recv().await {
        render(&mut renderer, &ev);
    }
    finish(&mut renderer);
}

/// Ctrl-C: the first cancels (the command stops at its next safe point and says `first`); the
/// second leaves at once with exit 130 after saying `second`.
pub async fn watch_interrupts(cancel: Cancel, printer: Printer, first: String, second: String) {
    if tokio::signal::ctrl_c().await.is_err() {
        return;
    }
    cancel.cancel();
    printer.status(&format!("\n{first}"));
    if tokio::signal::ctrl_c().await.is_ok() {
        printer.status(&second);
        std::process::exit(Outcome::Interrupted.exit_code() as i32);
    }
}

#[cfg(test)]
mod tests;
