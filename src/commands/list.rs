//! `medplum-init list`: the environments of the account (see [`crate::deploy::environments`]),
//! one line each on stdout, or one JSON object each with `--output json`. URLs come from the
//! environment's config file when `--dir` holds it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{Command, CommandError, Confirmed, Cx, Outcome, run_blocking};
use crate::aws::AwsClients;
use crate::cli::ListArgs;
use crate::config::US_EAST_1;
use crate::config::infra::ConfigDocument;
use crate::deploy::environments::{self, Environment};

pub fn run(args: ListArgs, cx: &Cx) -> Outcome {
    run_blocking(cx, super::drive::<List>(args, cx))
}

pub struct List {
    args: ListArgs,
    /// Environment name to its config, from `--dir`.
    configs: BTreeMap<String, ConfigDocument>,
    regions: Vec<String>,
}

impl Command for List {
    type Args = ListArgs;
    type Plan = Vec<String>;
    type Applied = Vec<Environment>;

    fn resolve(args: ListArgs, _cx: &Cx) -> Result<Self, CommandError> {
        Ok(Self {
            args,
            configs: BTreeMap::new(),
            regions: Vec::new(),
        })
    }

    /// The regions are checked, and the configs in `--dir` read (a folder without any is fine).
    fn validate(&mut self, cx: &Cx) -> Result<(), CommandError> {
        for r in &self.args.regions {
            crate::config::validators::region(r).map_err(|(problem, fix)| {
                CommandError::usage(format!("--regions: {problem}"), fix)
            })?;
        }
        let entries: Vec<PathBuf> = std::fs::read_dir(&self.args.dir)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        for path in entries {
            let Some(env) = super::env_of_file_name(&path) else {
                continue;
            };
            if let Some(doc) = ConfigDocument::read(&path)? {
                self.configs.insert(env, doc);
            }
        }
        let mut regions = self.args.regions.clone();
        if regions.is_empty() {
            regions.extend(
                self.configs
                    .values()
                    .filter_map(|d| d.get_str("region").map(str::to_string)),
            );
            regions.extend(cx.aws.region.clone());
        }
        self.regions = regions;
        Ok(())
    }

    async fn plan(&mut self, _cx: &Cx) -> Result<Vec<String>, CommandError> {
        Ok(self.regions.clone())
    }

    /// Reading changes nothing: nothing to confirm.
    async fn confirm(
        &mut self,
        _cx: &Cx,
        plan: Vec<String>,
    ) -> Result<Confirmed<Vec<String>>, CommandError> {
        Ok(Confirmed::Go(plan))
    }

    async fn apply(
        &mut self,
        cx: &Cx,
        regions: Vec<String>,
    ) -> Result<Vec<Environment>, CommandError> {
        let home = regions.first().cloned().unwrap_or_else(|| US_EAST_1.into());
        let aws = AwsClients::load(&cx.aws, &home).await;
        Ok(environments::list(&aws, &regions).await?)
    }

    async fn report(&mut self, cx: &Cx, envs: Vec<Environment>) -> Outcome {
        for e in &envs {
            let urls = self.urls(e);
            if cx.printer.is_json() {
                let mut v = serde_json::to_value(e).unwrap_or_default();
                v["app_url"] = urls.0.clone().into();
                v["api_url"] = urls.1.clone().into();
                cx.printer.json(&v);
            } else {
                cx.printer.data_line(&line(e, &urls));
            }
        }
        if envs.is_empty() && !cx.printer.is_json() {
            cx.printer.status(&format!(
                "no environments in {}",
                if self.regions.is_empty() {
                    US_EAST_1.to_string()
                } else {
                    self.regions.join(", ")
                }
            ));
        }
        Outcome::Done
    }
}

impl List {
    /// The app and API URLs from the environment's config in `--dir`, when it is there.
    fn urls(&self, e: &Environment) -> (Option<String>, Option<String>) {
        let Some(doc) = self.configs.get(&e.name) else {
            return (None, None);
        };
        let https = |k: &str| doc.get_str(k).map(|d| format!("https://{d}/"));
        (https("appDomainName"), https("apiDomainName"))
    }
}

/// `staging  eu-west-1  UPDATE_COMPLETE  2026-12-01T10:00:00Z  medplum/medplum-server:5.0.10
/// (+ us-east-1 CREATE_COMPLETE)  https://app.example.com/`
fn line(e: &Environment, urls: &(Option<String>, Option<String>)) -> String {
    let mut s = format!(
        "{}  {}  {}  {}  {}",
        e.name,
        e.region,
        e.stack.status,
        e.stack.updated.as_deref().unwrap_or("-"),
        e.server_image.as_deref().unwrap_or("-"),
    );
    if let Some(c) = &e.companion {
        s.push_str(&format!("  (+ {} {})", c.region, c.status));
    }
    if let Some(app) = &urls.0 {
        s.push_str(&format!("  {app}"));
    }
    s
}
