//! `medplum-init synth`: the CloudFormation templates for a CDK config file, written to disk.
//!
//! Lookups come from `cdk.context.json` next to the config. Only what is missing is asked of
//! AWS (the hosted zone from Route53, external secrets from Parameter Store), and what was
//! looked up is recorded in that file so the next run needs no AWS. Data (the written paths) goes
//! to stdout, everything else to stderr.

use std::path::{Path, PathBuf};

use medplum_init::aws::{AwsClients, AwsSettings};
use medplum_init::config::infra::{ConfigDocument, config_path};
use medplum_init::deploy::context::{self, ContextError};
use medplum_init::deploy::{SynthError, synth};
use medplum_init::exit;
use medplum_init::ui::OutputMode;
use medplum_init::ui::style::Style;

use crate::cli::{Global, SynthArgs};

/// A failure with its exit code and what to do about it.
struct Failure {
    code: u8,
    message: String,
    hint: Option<String>,
}

impl Failure {
    fn usage(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            code: exit::USAGE,
            message: message.into(),
            hint: Some(hint.into()),
        }
    }
}

impl From<SynthError> for Failure {
    fn from(e: SynthError) -> Self {
        Self {
            code: exit::USAGE,
            hint: Some(e.hint().to_string()),
            message: e.to_string(),
        }
    }
}

impl From<ContextError> for Failure {
    fn from(e: ContextError) -> Self {
        let code = match &e {
            ContextError::Aws(_) | ContextError::Read { .. } | ContextError::Write { .. } => {
                exit::FAILURE
            }
            _ => exit::USAGE,
        };
        Self {
            code,
            hint: e.hint(),
            message: e.to_string(),
        }
    }
}

pub fn run(g: &Global, args: &SynthArgs) -> u8 {
    crate::block_on(async {
        match run_async(g, args).await {
            Ok(()) => exit::OK,
            Err(f) => {
                let style = Style::for_stderr();
                eprintln!("{} {}", style.red("error:"), f.message);
                if let Some(h) = f.hint {
                    eprintln!("  hint: {h}");
                }
                f.code
            }
        }
    })
}

/// AWS clients for the config's region, built on first need only: a run the context file fully
/// serves never loads credentials.
async fn connect(g: &Global, region: &str, clients: &mut Option<AwsClients>) -> AwsClients {
    if clients.is_none() {
        let settings = AwsSettings {
            profile: g.profile.clone(),
            region: g.region.clone(),
            endpoint_url: g.endpoint_url.clone(),
            timeouts: g.aws_timeouts(),
        };
        *clients = Some(AwsClients::load(&settings, region).await);
    }
    clients.clone().expect("loaded above")
}

/// `--config`, else `medplum.<env>.config.json` in `--dir`, else the only such file there.
fn find_config(g: &Global, args: &SynthArgs) -> Result<PathBuf, Failure> {
    if let Some(p) = &args.config {
        return Ok(p.clone());
    }
    if let Some(env) = &g.env {
        return Ok(config_path(&g.dir, env));
    }
    let found: Vec<PathBuf> = std::fs::read_dir(&g.dir)
        .map_err(|e| {
            Failure::usage(
                format!("cannot read {}: {e}", g.dir.display()),
                "check --dir",
            )
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            n.starts_with("medplum.")
                && n.ends_with(".config.json")
                && !n.ends_with(".config.server.json")
                && n.matches('.').count() == 3
        })
        .collect();
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(Failure::usage(
            format!("no medplum.<env>.config.json in {}", g.dir.display()),
            "pass --config FILE or --env NAME, or run medplum-init init first",
        )),
        many => Err(Failure::usage(
            format!(
                "several configs in {}: {}",
                g.dir.display(),
                many.iter()
                    .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "pick one with --env NAME or --config FILE",
        )),
    }
}

async fn run_async(g: &Global, args: &SynthArgs) -> Result<(), Failure> {
    let config_file = find_config(g, args)?;
    let doc = ConfigDocument::read(&config_file)
        .map_err(|e| Failure::usage(e.to_string(), "fix the config file"))?
        .ok_or_else(|| {
            Failure::usage(
                format!("{} does not exist", config_file.display()),
                "pass --config FILE, or run medplum-init init first",
            )
        })?;
    let dir = config_file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let offline = args.offline || g.dry_run;
    let style = Style::for_stderr();

    let region = doc.get_str("region").unwrap_or_default().to_string();
    let mut clients: Option<AwsClients> = None;

    let config = if doc.external_secrets().is_empty() || offline {
        context::resolve_config(&doc, None).await?
    } else {
        let c = connect(g, &region, &mut clients).await;
        context::resolve_config(&doc, Some(&c)).await?
    };

    let lookups = if offline {
        context::lookups_for(&dir, &config, None).await?.0
    } else {
        let c = connect(g, &region, &mut clients).await;
        let (found, recorded) = context::lookups_for(&dir, &config, Some(&c)).await?;
        if recorded {
            eprintln!(
                "{} the hosted zone lookup in {}",
                style.dim("recorded"),
                dir.join(context::CONTEXT_FILE).display()
            );
        }
        found
    };
    if lookups.availability_zones.is_none() {
        eprintln!(
            "{} cdk.context.json names no availability zones for {}: subnets use Fn::GetAZs",
            style.dim("note:"),
            config.region
        );
    }

    let stacks = synth(&config, &lookups)?;
    let out = args.out.clone().unwrap_or_else(|| dir.join("cdk.out"));
    std::fs::create_dir_all(&out).map_err(|e| Failure {
        code: exit::FAILURE,
        message: format!("cannot create {}: {e}", out.display()),
        hint: None,
    })?;
    for stack in &stacks {
        let path = out.join(format!("{}.template.json", stack.name));
        medplum_init::fsutil::write_atomic(&path, stack.body().as_bytes(), 0o644).map_err(|e| {
            Failure {
                code: exit::FAILURE,
                message: format!("cannot write {}: {e}", path.display()),
                hint: None,
            }
        })?;
        if g.output == Some(OutputMode::Json) {
            println!(
                "{}",
                serde_json::json!({"stack": stack.name, "region": stack.region, "path": path})
            );
        } else {
            println!("{}", path.display());
        }
    }
    Ok(())
}
