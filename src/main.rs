//! The binary: parse the command line, pick the front end, run, map the result to an exit code.

mod cli;
mod deploy_cmd;
mod init;
mod synth_cmd;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use medplum_init::exit;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // The environment names files and folders (`.medplum-init/<env>/`): checked once, here,
    // before any command builds a path from it.
    if let Some(env) = &cli.global.env
        && let Err((problem, fix)) = medplum_init::config::validators::env_name(env)
    {
        eprintln!("error: --env: {problem}\n  fix: {fix}");
        return ExitCode::from(exit::USAGE);
    }
    let code = match &cli.command {
        Some(cli::Command::AnswersTemplate) => {
            let mut out = std::io::stdout().lock();
            match out.write_all(medplum_init::answers::template::TEMPLATE.as_bytes()) {
                Ok(()) => exit::OK,
                // A closed pipe (`| head`) is not an error.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => exit::OK,
                Err(_) => exit::FAILURE,
            }
        }
        Some(cli::Command::Init(args)) => init::run(&cli.global, args),
        Some(cli::Command::Synth(args)) => synth_cmd::run(&cli.global, args),
        Some(cli::Command::Diff(args)) => deploy_cmd::diff(&cli.global, args),
        Some(cli::Command::Deploy(args)) => deploy_cmd::deploy(&cli.global, args),
        None => init::run(&cli.global, &cli::InitArgs::default()),
    };
    ExitCode::from(code)
}

/// The async runtime every command runs on. Two workers: the work is AWS I/O, the RSA key is
/// made on the blocking pool, and the TUI's loop and the steps run side by side.
fn block_on(f: impl Future<Output = u8>) -> u8 {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(f),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            exit::FAILURE
        }
    }
}
