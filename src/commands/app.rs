//! `medplum-init app`: publish the web app (`@medplum/app`, see [`crate::app`]) to the
//! environment's app bucket, and the same as the last stage of `deploy` ([`stage`]).
//!
//! plan: the package (registry or `--app-tarball`), its integrity, the site with the config's
//! values, the bucket and distribution from the stacks, what the bucket already holds; `--dry-run`
//! lists the uploads and stops there. apply: upload, remove stale objects, invalidate, wait.
//! report: the version serving at the app URL, recorded in the journal (`extra.app`).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Command, CommandError, Confirmed, Cx, Location, Outcome, run_blocking};
use crate::app::http::HttpClient;
use crate::app::publish::{self, Plan, Target};
use crate::app::registry::{self, Wanted};
use crate::app::site::{self, Settings};
use crate::app::{AppError, DEFAULT_REGISTRY, JOURNAL_KEY, PACKAGE, Progress, download, package};
use crate::aws::AwsClients;
use crate::cli::{AppArgs, AppSourceArgs};
use crate::config::infra::{ConfigDocument, InfraConfig};
use crate::deploy::event::{AppEvent, DeployEvent, DeploySink};
use crate::deploy::summary;
use crate::engine::{Cancel, Journal};

/// How long one request to the registry may wait for an answer or the next chunk.
const REGISTRY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

pub fn run(args: AppArgs, cx: &Cx) -> Outcome {
    run_blocking(cx, super::drive::<App>(args, cx))
}

/// What the journal keeps of the last publish.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppRecord {
    pub version: String,
    /// The registry URL, or the `--app-tarball` file.
    pub source: String,
    pub published_at: String,
    pub app_url: String,
    pub bucket: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution: Option<String>,
    pub uploaded: usize,
    pub unchanged: usize,
    pub deleted: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalidation: Option<String>,
    /// Paths changed in the bucket whose invalidation was not created yet (an interrupted
    /// publish): the next publish invalidates them too, even when it uploads nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_paths: Vec<String>,
}

/// A publish, planned.
pub struct Prepared {
    pub version: String,
    pub source: String,
    pub target: Target,
    pub plan: Plan,
    pub app_url: String,
}

/// The values put into the app's placeholders, from the CDK config (as Medplum's CLI does:
/// `registerEnabled` is `true` only when the config says so). Checked first: they are written
/// into the app's JavaScript as they are, and the file may have been edited by hand.
pub fn settings(doc: &ConfigDocument, config: &InfraConfig) -> Result<Settings, CommandError> {
    let keys = doc.ordered();
    for key in [
        "clientId",
        "googleClientId",
        "recaptchaSiteKey",
        "registerEnabled",
    ] {
        if let Some(value) = keys.get(key) {
            crate::config::validators::app_setting(key, value).map_err(|(problem, fix)| {
                CommandError::usage(
                    format!("{key} in the config file: {problem}"),
                    format!("{fix}; nothing was published"),
                )
            })?;
        }
    }
    let s = |k: &str| doc.get_str(k).unwrap_or_default().to_string();
    Ok(Settings {
        base_url: summary::api_url(config),
        client_id: s("clientId"),
        google_client_id: s("googleClientId"),
        recaptcha_site_key: s("recaptchaSiteKey"),
        register_enabled: keys.get("registerEnabled") == Some(&serde_json::Value::Bool(true)),
    })
}

/// The registry URL to use.
pub fn registry_of(source: &AppSourceArgs) -> String {
    source
        .npm_registry
        .clone()
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| DEFAULT_REGISTRY.to_string())
}

/// The options checked offline: the registry's URL, the tarball's existence.
pub fn check_source(source: &AppSourceArgs) -> Result<(), CommandError> {
    if let Some(t) = &source.app_tarball {
        if !t.is_file() {
            return Err(CommandError::usage(
                format!("--app-tarball {}: no such file", t.display()),
                "give the .tgz `npm pack @medplum/app` writes",
            ));
        }
    } else {
        crate::app::http::check_url(&registry_of(source))?;
    }
    Ok(())
}

/// Plans a publish: the package, the site, the target, the comparison with the bucket.
pub async fn prepare(
    events: &DeploySink,
    aws: &AwsClients,
    doc: &ConfigDocument,
    config: &InfraConfig,
    source: &AppSourceArgs,
    cancel: &Cancel,
) -> Result<Prepared, CommandError> {
    let settings = settings(doc, config)?;
    let (tgz, version, from) = fetch(events, config, source, cancel).await?;
    let pkg = package::read(&tgz)?;
    let version = version.or(pkg.version).unwrap_or_else(|| "unknown".into());
    let site = site::build(pkg.files, &settings);
    for (key, placeholder) in &site.leftovers {
        events.note(
            None,
            format!(
                "warning: {key} still holds {placeholder} after the config's values were put in; \
                 that part of the app may not work (check the package and the config)"
            ),
        );
    }
    let target = cancel
        .race(publish::find_target(aws, config))
        .await
        .ok_or(AppError::Interrupted)??;
    let remote = cancel
        .race(publish::remote_objects(aws, &target))
        .await
        .ok_or(AppError::Interrupted)??;
    let plan = publish::plan(site, &remote);
    app_event(
        events,
        AppEvent::Planned {
            version: version.clone(),
            bucket: target.bucket.clone(),
            uploads: plan.uploads.len(),
            unchanged: plan.unchanged.len(),
            deletes: plan.deletes.len(),
        },
    );
    Ok(Prepared {
        version,
        source: from,
        target,
        plan,
        app_url: summary::app_url(config),
    })
}

fn app_event(events: &DeploySink, e: AppEvent) {
    events.emit(DeployEvent::App(e));
}

/// The tarball's bytes, the version when the registry named it, and where it came from.
async fn fetch(
    events: &DeploySink,
    config: &InfraConfig,
    source: &AppSourceArgs,
    cancel: &Cancel,
) -> Result<(Vec<u8>, Option<String>, String), CommandError> {
    if let Some(path) = &source.app_tarball {
        app_event(
            events,
            AppEvent::Fetching {
                package: PACKAGE.into(),
                version: None,
                source: path.display().to_string(),
            },
        );
        let bytes = read_tarball(path)?;
        return Ok((bytes, None, path.display().to_string()));
    }
    let registry = registry_of(source);
    let http = HttpClient::new(REGISTRY_TIMEOUT)?;
    let wanted = Wanted::choose(source.app_version.as_deref(), &config.server_image);
    let release = cancel
        .race(registry::resolve(&http, &registry, &wanted))
        .await
        .ok_or(AppError::Interrupted)??;
    app_event(
        events,
        AppEvent::Fetching {
            package: PACKAGE.into(),
            version: Some(release.version.clone()),
            source: registry.clone(),
        },
    );
    let mut shown = DownloadProgress::default();
    let bytes = download::fetch(
        &http,
        &release.tarball,
        &release.integrity,
        cancel,
        &mut |p| shown.show(events, &p),
    )
    .await?;
    Ok((bytes, Some(release.version), registry))
}

fn read_tarball(path: &Path) -> Result<Vec<u8>, CommandError> {
    let bad = |message: String| AppError::Tarball {
        path: path.display().to_string(),
        message,
    };
    let meta = std::fs::metadata(path).map_err(|e| bad(e.to_string()))?;
    if meta.len() > download::MAX_TARBALL {
        return Err(bad(format!("larger than {} bytes", download::MAX_TARBALL)).into());
    }
    Ok(std::fs::read(path).map_err(|e| bad(e.to_string()))?)
}

/// Download progress as events: one each time the percentage moves, not one per chunk.
#[derive(Default)]
struct DownloadProgress {
    last: Option<u64>,
}

impl DownloadProgress {
    fn show(&mut self, events: &DeploySink, p: &Progress) {
        let Progress::Download { received, total } = *p else {
            return;
        };
        // Without a total, every 256 KiB.
        let step = match total {
            Some(t) if t > 0 => received * 100 / t,
            _ => received >> 18,
        };
        if self.last != Some(step) {
            self.last = Some(step);
            app_event(events, AppEvent::Download { received, total });
        }
    }
}

/// The plan, as `--dry-run` lists it (stdout).
pub fn plan_text(p: &Prepared) -> String {
    let mut out = format!(
        "{PACKAGE} {} to s3://{}/ ({}): {} to upload, {} unchanged, {} to remove\n",
        p.version,
        p.target.bucket,
        p.target.bucket_region,
        p.plan.uploads.len(),
        p.plan.unchanged.len(),
        p.plan.deletes.len()
    );
    for o in &p.plan.uploads {
        out.push_str(&format!(
            "  put     {}  ({}; {})\n",
            o.key, o.content_type, o.cache_control
        ));
    }
    for k in &p.plan.deletes {
        out.push_str(&format!("  delete  {k}\n"));
    }
    let paths = publish::invalidation_paths(p.plan.changed_paths());
    match (&p.target.distribution, paths.is_empty()) {
        (Some(d), false) => out.push_str(&format!("  invalidate {} on {d}\n", paths.join(" "))),
        (None, _) => {
            out.push_str("  (no CloudFront distribution in the stacks: nothing to invalidate)\n")
        }
        _ => {}
    }
    out
}

/// Uploads, removes and invalidates, keeping the journal up to date (see [`AppRecord`]).
pub async fn publish(
    events: &DeploySink,
    aws: &AwsClients,
    journal: &Journal,
    prepared: &Prepared,
    wait: bool,
    cancel: &Cancel,
) -> Result<AppRecord, CommandError> {
    let previous: Option<AppRecord> = journal.extra(JOURNAL_KEY);
    let carried = previous
        .as_ref()
        .map(|r| r.pending_paths.clone())
        .unwrap_or_default();
    let mut record = AppRecord {
        version: prepared.version.clone(),
        source: prepared.source.clone(),
        published_at: crate::engine::time::now_rfc3339(),
        app_url: prepared.app_url.clone(),
        bucket: prepared.target.bucket.clone(),
        distribution: prepared.target.distribution.clone(),
        uploaded: 0,
        unchanged: prepared.plan.unchanged.len(),
        deleted: 0,
        invalidation: None,
        pending_paths: Vec::new(),
    };
    if prepared.target.distribution.is_some() {
        let mut pending = carried.clone();
        pending.extend(prepared.plan.changed_paths());
        pending.sort();
        pending.dedup();
        if !pending.is_empty() {
            record.pending_paths = pending;
            journal.set_extra(JOURNAL_KEY, &record)?;
        }
    }
    let mut progress = |p: Progress| match p {
        Progress::Upload { key, done, total } => {
            app_event(events, AppEvent::Uploaded { key, done, total })
        }
        Progress::Delete { key } => app_event(events, AppEvent::Removed { key }),
        Progress::Invalidation { id, status } => {
            app_event(events, AppEvent::Invalidation { id, status })
        }
        Progress::Download { .. } => {}
    };
    let done = publish::apply(
        aws,
        &prepared.target,
        &prepared.plan,
        &carried,
        wait,
        cancel,
        &mut progress,
    )
    .await;
    let done = match done {
        Ok(d) => d,
        Err(e) => {
            // The uploads made so far stay; `pending_paths` makes the next run invalidate them.
            return Err(failed(events, e.into()));
        }
    };
    record.uploaded = done.uploaded.len();
    record.deleted = done.deleted.len();
    record.invalidation = done.invalidation.clone();
    record.pending_paths.clear();
    journal.set_extra(JOURNAL_KEY, &record)?;
    app_event(
        events,
        AppEvent::Finished {
            ok: true,
            message: summary_line(&record),
        },
    );
    Ok(record)
}

/// One line: what serves where now.
pub fn summary_line(r: &AppRecord) -> String {
    let what = if r.uploaded == 0 && r.deleted == 0 {
        "already published".to_string()
    } else {
        format!(
            "{} uploaded, {} unchanged, {} removed",
            r.uploaded, r.unchanged, r.deleted
        )
    };
    format!("{PACKAGE} {} serves at {} ({what})", r.version, r.app_url)
}

/// The app stage of `deploy`: prepare and publish in one go, with the deploy's journal, its
/// progress sent to the deploy's renderer (the panes, the plain log, JSON lines). `watch`:
/// whether to catch Ctrl-C here (the full screen reads it as a key and cancels itself).
#[allow(clippy::too_many_arguments)]
pub async fn stage(
    events: &DeploySink,
    watch: Option<crate::printer::Printer>,
    aws: &AwsClients,
    doc: &ConfigDocument,
    config: &InfraConfig,
    source: &AppSourceArgs,
    journal: &Journal,
    cancel: &Cancel,
) -> Result<AppRecord, CommandError> {
    // The deploy's own Ctrl-C watcher ended with the stacks.
    let signals = watch.map(|printer| {
        tokio::spawn(super::watch_interrupts(
            cancel.clone(),
            printer,
            "interrupted: stopping the web app's publish (the stacks are deployed; run `medplum-init app` to finish it)".into(),
            "left: run `medplum-init app` to finish the web app's publish".into(),
        ))
    });
    let out = match prepare(events, aws, doc, config, source, cancel).await {
        Ok(prepared) => publish(events, aws, journal, &prepared, !source.no_wait, cancel).await,
        Err(e) => Err(failed(events, e)),
    };
    if let Some(s) = signals {
        s.abort();
    }
    out
}

/// Says that the publish stopped, and passes the error on.
fn failed(events: &DeploySink, e: CommandError) -> CommandError {
    app_event(
        events,
        AppEvent::Finished {
            ok: false,
            message: e.message.clone(),
        },
    );
    e
}

pub struct App {
    args: AppArgs,
    loc: Location,
    doc: ConfigDocument,
    cancel: Cancel,
    signals: Option<tokio::task::JoinHandle<()>>,
    aws: Option<AwsClients>,
    /// The progress events and the renderer drawing them, from plan to the end of apply.
    events: Option<(DeploySink, tokio::task::JoinHandle<()>)>,
}

impl App {
    fn events(&mut self, cx: &Cx) -> DeploySink {
        let (sink, _) = self.events.get_or_insert_with(|| super::deploy_events(cx));
        sink.clone()
    }

    /// Lets the renderer write what it has before anything else is printed.
    async fn close_events(&mut self) {
        if let Some((sink, renderer)) = self.events.take() {
            drop(sink);
            let _ = renderer.await;
        }
    }
}

impl Command for App {
    type Args = AppArgs;
    type Plan = Prepared;
    type Applied = AppRecord;

    fn resolve(args: AppArgs, _cx: &Cx) -> Result<Self, CommandError> {
        let loc = Location::existing(&args.target)?;
        Ok(Self {
            args,
            loc,
            doc: ConfigDocument::default(),
            cancel: Cancel::new(),
            signals: None,
            aws: None,
            events: None,
        })
    }

    fn validate(&mut self, _cx: &Cx) -> Result<(), CommandError> {
        let file = self.loc.config_file().expect("existing() names a config");
        self.doc = super::synth::read_config(&file)?;
        check_source(&self.args.app)
    }

    async fn plan(&mut self, cx: &Cx) -> Result<Prepared, CommandError> {
        let region = super::config_region(&self.doc, cx);
        let aws = AwsClients::load(&cx.aws, &region).await;
        let config = crate::deploy::context::resolve_config(&self.doc, Some(&aws)).await?;
        self.signals = Some(tokio::spawn(super::watch_interrupts(
            self.cancel.clone(),
            cx.printer,
            "interrupted: stopping the publish (what is uploaded stays; run it again to finish)"
                .into(),
            "left: run `medplum-init app` again to finish the publish".into(),
        )));
        let events = self.events(cx);
        let prepared = prepare(
            &events,
            &aws,
            &self.doc,
            &config,
            &self.args.app,
            &self.cancel,
        )
        .await
        .map_err(|e| failed(&events, e));
        drop(events);
        self.aws = Some(aws);
        if prepared.is_err() || self.args.dry_run {
            self.close_events().await;
        }
        let prepared = prepared?;
        if self.args.dry_run {
            if cx.printer.is_json() {
                cx.printer.json(&plan_json(&prepared));
            } else {
                let _ = cx.printer.data(&plan_text(&prepared));
            }
        }
        Ok(prepared)
    }

    /// No question: publishing the app is what the command is for, and it replaces only the
    /// app's own bucket. A dry run ends here.
    async fn confirm(
        &mut self,
        _cx: &Cx,
        plan: Prepared,
    ) -> Result<Confirmed<Prepared>, CommandError> {
        if self.args.dry_run {
            return Ok(Confirmed::Stop(Outcome::Done));
        }
        Ok(Confirmed::Go(plan))
    }

    async fn apply(&mut self, cx: &Cx, plan: Prepared) -> Result<AppRecord, CommandError> {
        let env = self.loc.env.clone().unwrap_or_default();
        let journal = Journal::open(&self.loc.dir, &env)?;
        let events = self.events(cx);
        let aws = self.aws.as_ref().expect("planned");
        let out = publish(
            &events,
            aws,
            &journal,
            &plan,
            !self.args.app.no_wait,
            &self.cancel,
        )
        .await;
        drop(events);
        self.close_events().await;
        if let Some(s) = self.signals.take() {
            s.abort();
        }
        out
    }

    async fn report(&mut self, cx: &Cx, r: AppRecord) -> Outcome {
        if cx.printer.is_json() {
            cx.printer.json(&serde_json::json!({
                "event": "app_published",
                "version": r.version,
                "app_url": r.app_url,
                "bucket": r.bucket,
                "uploaded": r.uploaded,
                "unchanged": r.unchanged,
                "deleted": r.deleted,
                "invalidation": r.invalidation,
            }));
        } else {
            cx.printer.data_line(&summary_line(&r));
        }
        Outcome::Done
    }
}

fn plan_json(p: &Prepared) -> serde_json::Value {
    serde_json::json!({
        "event": "app_plan",
        "version": p.version,
        "bucket": p.target.bucket,
        "distribution": p.target.distribution,
        "uploads": p.plan.uploads.iter().map(|o| serde_json::json!({
            "key": o.key, "content_type": o.content_type, "cache_control": o.cache_control,
        })).collect::<Vec<_>>(),
        "unchanged": p.plan.unchanged.len(),
        "deletes": p.plan.deletes,
        "invalidate": publish::invalidation_paths(p.plan.changed_paths()),
    })
}
