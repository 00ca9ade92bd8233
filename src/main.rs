//! The binary: parse the command line and dispatch to the command (`medplum_init::commands`),
//! with the terminal as the front end; the command's outcome is the exit code.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use medplum_init::cli::{AwsArgs, Cli, Command, OutputArgs};
use medplum_init::commands::{self, Cx};
use medplum_init::ui::frontend::Terminal;

fn main() -> ExitCode {
    // Pins the start time before anything is written: stale temporary files are those older.
    medplum_init::fsutil::process_start();
    let cli = Cli::parse();
    let ui = Arc::new(Terminal);
    let outcome = match cli.command {
        Some(Command::AnswersTemplate) => commands::answers_template::run(&Cx::new(
            &OutputArgs::default(),
            &AwsArgs::default(),
            ui,
        )),
        Some(Command::Init(args)) => {
            let cx = Cx::new(&args.output, &args.aws, ui);
            commands::init::run(args, &cx)
        }
        Some(Command::Synth(args)) => {
            let cx = Cx::new(&args.output, &args.aws, ui);
            commands::synth::run(args, &cx)
        }
        Some(Command::Diff(args)) => {
            let cx = Cx::new(&args.output, &args.aws, ui);
            commands::deploy::diff(args, &cx)
        }
        Some(Command::Deploy(args)) => {
            let cx = Cx::new(&args.output, &args.aws, ui);
            commands::deploy::deploy(args, &cx)
        }
        Some(Command::List(args)) => {
            let cx = Cx::new(&args.output, &args.aws, ui);
            commands::list::run(args, &cx)
        }
        Some(Command::Status(args)) => {
            let cx = Cx::new(&args.output, &args.aws, ui);
            commands::status::run(args, &cx)
        }
        Some(Command::Step(args)) => {
            let cx = Cx::new(&args.output, &args.aws, ui);
            commands::step::run(args, &cx)
        }
        Some(Command::Rotate(args)) => {
            let cx = Cx::new(&args.output, &args.aws, ui);
            commands::rotate::run(args, &cx)
        }
        Some(Command::App(args)) => {
            let cx = Cx::new(&args.output, &args.aws, ui);
            commands::app::run(args, &cx)
        }
        Some(Command::Destroy(args)) => {
            let cx = Cx::new(&args.output, &args.aws, ui);
            commands::destroy::run(args, &cx)
        }
        None => {
            let cx = Cx::new(&cli.init.output, &cli.init.aws, ui);
            commands::init::run(cli.init, &cx)
        }
    };
    ExitCode::from(outcome.exit_code())
}
