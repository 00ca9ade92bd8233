//! `medplum-init synth`: the CloudFormation templates for a CDK config file, written to disk.
//!
//! Lookups come from `cdk.context.json` next to the config. Only what is missing is asked of
//! AWS (the hosted zone from Route53, external secrets from Parameter Store), and what was
//! looked up is recorded in that file so the next run needs no AWS. Data (the written paths) goes
//! to stdout, everything else to stderr.

use std::path::PathBuf;

use super::{Command, CommandError, Confirmed, Cx, Location, Outcome, run_blocking};
use crate::aws::AwsClients;
use crate::cli::SynthArgs;
use crate::config::infra::ConfigDocument;
use crate::deploy::context;
use crate::deploy::{StackTemplate, synth};

pub fn run(args: SynthArgs, cx: &Cx) -> Outcome {
    run_blocking(cx, super::drive::<Synth>(args, cx))
}

pub struct Synth {
    args: SynthArgs,
    config_file: PathBuf,
    /// The config's folder: `cdk.context.json` and the default `cdk.out` live there.
    dir: PathBuf,
    doc: ConfigDocument,
    /// Built on first need only: a run the context file fully serves never loads credentials.
    clients: Option<AwsClients>,
}

impl Synth {
    async fn clients(&mut self, cx: &Cx) -> AwsClients {
        if self.clients.is_none() {
            let region = self.doc.get_str("region").unwrap_or_default().to_string();
            self.clients = Some(AwsClients::load(&cx.aws, &region).await);
        }
        self.clients.clone().expect("loaded above")
    }
}

/// Reads the config at `path`: a missing file is a usage error that says how to make one.
pub(super) fn read_config(path: &std::path::Path) -> Result<ConfigDocument, CommandError> {
    ConfigDocument::read(path)?.ok_or_else(|| {
        CommandError::usage(
            format!("{} does not exist", path.display()),
            "run the guided install first (`medplum-init`), or pass --env NAME, --dir DIR or --config FILE",
        )
    })
}

impl Command for Synth {
    type Args = SynthArgs;
    type Plan = Vec<StackTemplate>;
    type Applied = ();

    fn resolve(args: SynthArgs, _cx: &Cx) -> Result<Self, CommandError> {
        let loc = Location::existing(&args.target)?;
        let config_file = loc.config_file().expect("existing() names a config");
        Ok(Self {
            doc: ConfigDocument::default(),
            dir: loc.dir,
            config_file,
            args,
            clients: None,
        })
    }

    fn validate(&mut self, _cx: &Cx) -> Result<(), CommandError> {
        self.doc = read_config(&self.config_file)?;
        Ok(())
    }

    async fn plan(&mut self, cx: &Cx) -> Result<Self::Plan, CommandError> {
        let offline = self.args.offline;
        let config = if self.doc.external_secrets().is_empty() || offline {
            context::resolve_config(&self.doc, None).await?
        } else {
            let c = self.clients(cx).await;
            context::resolve_config(&self.doc, Some(&c)).await?
        };
        let lookups = if offline {
            context::lookups_for(&self.dir, &config, None).await?.0
        } else {
            let c = self.clients(cx).await;
            let (found, recorded) = context::lookups_for(&self.dir, &config, Some(&c)).await?;
            if recorded {
                cx.printer.note(
                    "recorded",
                    &format!(
                        "the hosted zone lookup in {}",
                        self.dir.join(context::CONTEXT_FILE).display()
                    ),
                );
            }
            found
        };
        if lookups.availability_zones.is_none() {
            cx.printer.note(
                "note:",
                &format!(
                    "cdk.context.json names no availability zones for {}: subnets use Fn::GetAZs",
                    config.region
                ),
            );
        }
        Ok(synth(&config, &lookups)?)
    }

    /// Writing templates changes nothing in AWS: nothing to confirm.
    async fn confirm(
        &mut self,
        _cx: &Cx,
        plan: Self::Plan,
    ) -> Result<Confirmed<Self::Plan>, CommandError> {
        Ok(Confirmed::Go(plan))
    }

    async fn apply(&mut self, cx: &Cx, stacks: Self::Plan) -> Result<(), CommandError> {
        let out = self
            .args
            .out
            .clone()
            .unwrap_or_else(|| self.dir.join("cdk.out"));
        std::fs::create_dir_all(&out).map_err(|e| {
            CommandError::failed(format!("cannot create {}: {e}", out.display()), None)
        })?;
        for stack in &stacks {
            let path = out.join(format!("{}.template.json", stack.name));
            crate::fsutil::write_atomic(&path, stack.body().as_bytes(), 0o644).map_err(|e| {
                CommandError::failed(format!("cannot write {}: {e}", path.display()), None)
            })?;
            if cx.printer.is_json() {
                cx.printer.json(
                    &serde_json::json!({"stack": stack.name, "region": stack.region, "path": path}),
                );
            } else {
                cx.printer.data_line(&path.display().to_string());
            }
        }
        Ok(())
    }

    async fn report(&mut self, _cx: &Cx, _applied: ()) -> Outcome {
        Outcome::Done
    }
}
