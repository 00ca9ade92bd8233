//! Faults between the binary and AWS: the seeded fault proxy (`scripts/fault-proxy`) in front of
//! the emulator. At 20% of requests faulted (500s, 503s, each service's own throttling error,
//! slow answers, dropped connections, answers lost after the emulator acted), a headless install
//! and a deploy end in the same state as a clean run on a second emulator, with nothing created
//! twice. When the faults outlast the SDK's retries, the run ends with an error naming the step
//! and the call (exit 1), and the next run completes.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use serde_json::json;

use crate::harness::{
    FaultProxy, Moto, answers, cmd, create_zone, rt, stack_resources, stack_status, text,
};

pub(crate) const ANSWERS: &str = "name = \"staging\"\nregion = \"us-east-1\"\ndomainName = \"example.com\"\n\
    [certificates]\nwait = true\nwait_timeout_minutes = 1\n\
    [server]\nsupportEmail = \"support@example.com\"\n";

pub(crate) const STACK: &str = "MedplumStaging";

/// An emulator with the hosted zone the install validates certificates in.
pub(crate) fn emulator() -> Moto {
    let emu = Moto::emulator();
    create_zone(&emu, "example.com");
    emu
}

/// The binary in `dir` with `env` (an emulator's or a proxy's), plain output.
pub(crate) fn run(env: Vec<(String, String)>, dir: &Path, args: &[&str]) -> Output {
    cmd(dir)
        .envs(env)
        .args(args)
        .args(["--output", "plain"])
        .output()
        .unwrap()
}

pub(crate) fn install(env: Vec<(String, String)>, dir: &Path) -> Output {
    run(env, dir, &["--answers", "answers.toml", "--yes"])
}

pub(crate) fn deploy(env: Vec<(String, String)>, dir: &Path) -> Output {
    run(env, dir, &["deploy", "--yes"])
}

pub(crate) fn ok(what: &str, out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what} failed\nstdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// Replaces what differs by nature between two emulators (generated key pairs, ARNs and ids
/// moto makes up) with stable labels, so two end states compare as equal exactly when they hold
/// the same things.
struct Labels(Vec<(String, String)>);

impl Labels {
    fn apply(&self, s: &str) -> String {
        let mut out = pem_free(s);
        let mut labels: Vec<&(String, String)> = self.0.iter().collect();
        // The longest first, so an id inside a longer one (an ARN) is not cut in half.
        labels.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
        for (from, to) in labels {
            out = out.replace(from.as_str(), to);
        }
        out
    }
}

/// `s` with every PEM block (a generated key) replaced by `<PEM>`.
fn pem_free(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("-----BEGIN ") {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let end = after
            .find("-----END ")
            .and_then(|e| after[e + 9..].find("-----").map(|t| e + 9 + t + 5))
            .unwrap_or(after.len());
        out.push_str("<PEM>");
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Everything the install and deploy leave, normalised with [`Labels`]: certificates (domain,
/// names, status), CloudFront public keys, SES identities, SSM parameters with their types,
/// values and versions, the config file, and the stack with its resources.
pub(crate) fn end_state(emu: &Moto, dir: &Path) -> BTreeMap<String, String> {
    let mut state = BTreeMap::new();
    let mut labels = Vec::new();
    let stack = stack_status(emu, "us-east-1", STACK);
    let resources = match stack {
        Some(_) => stack_resources(emu, "us-east-1", STACK),
        None => Vec::new(),
    };
    // What the stack made (secrets, roles) has generated names: label them by logical id.
    for (logical, _, physical) in &resources {
        if physical.starts_with("arn:") || physical.starts_with(&format!("{STACK}-")) {
            labels.push((physical.clone(), format!("<{logical}>")));
        }
    }
    rt().block_on(async {
        let sdk = emu.sdk("us-east-1").await;
        let acm = aws_sdk_acm::Client::new(&sdk);
        let list = acm.list_certificates().send().await.unwrap();
        let mut certs = Vec::new();
        for c in list.certificate_summary_list() {
            let arn = c.certificate_arn().unwrap().to_string();
            let d = acm
                .describe_certificate()
                .certificate_arn(&arn)
                .send()
                .await
                .unwrap();
            let c = d.certificate().unwrap();
            let domain = c.domain_name().unwrap_or_default().to_string();
            labels.push((arn, format!("<cert {domain}>")));
            certs.push(format!(
                "{domain} {:?} {:?}",
                c.subject_alternative_names(),
                c.status()
            ));
        }
        certs.sort();
        state.insert("certificates".into(), certs.join("\n"));

        let cf = aws_sdk_cloudfront::Client::new(&sdk);
        let keys = cf.list_public_keys().send().await.unwrap();
        let mut names = Vec::new();
        for (i, k) in keys
            .public_key_list()
            .map(|l| l.items().to_vec())
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            labels.push((k.id().to_string(), format!("<public key {i}>")));
            names.push(k.name().to_string());
        }
        names.sort();
        state.insert("public keys".into(), names.join("\n"));

        // moto has no ListEmailIdentities; identities are keyed by name, so the two the install
        // makes are read by name.
        let ses = aws_sdk_sesv2::Client::new(&sdk);
        for name in ["example.com", "support@example.com"] {
            let got = ses.get_email_identity().email_identity(name).send().await;
            let seen = match got {
                Ok(i) => format!(
                    "{:?} dkim {:?}",
                    i.identity_type(),
                    i.dkim_attributes().map(|d| d.signing_enabled())
                ),
                Err(e) => format!("absent: {:?}", e.into_service_error().meta().code()),
            };
            state.insert(format!("ses {name}"), seen);
        }

        let ssm = aws_sdk_ssm::Client::new(&sdk);
        let mut token = None;
        let mut params = Vec::new();
        loop {
            let page = ssm
                .get_parameters_by_path()
                .path("/")
                .recursive(true)
                .with_decryption(true)
                .set_next_token(token)
                .send()
                .await
                .unwrap();
            for p in page.parameters() {
                params.push((
                    p.name().unwrap_or_default().to_string(),
                    format!(
                        "{:?} v{} {}",
                        p.r#type(),
                        p.version(),
                        p.value().unwrap_or_default()
                    ),
                ));
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        let labels = Labels(labels.clone());
        for (name, value) in params {
            let value = if name.ends_with("/signingKeyPassphrase") {
                // Random by design; what matters is that there is one, written once.
                let (kind_version, secret) = value.rsplit_once(' ').unwrap_or((&value, ""));
                format!("{kind_version} <{} random characters>", secret.len())
            } else {
                labels.apply(&value)
            };
            state.insert(format!("ssm {name}"), value);
        }
    });
    let labels = Labels(labels);
    let config = std::fs::read_to_string(dir.join("medplum.staging.config.json"))
        .unwrap_or_else(|e| format!("no config file: {e}"));
    state.insert("config file".into(), labels.apply(&config));
    state.insert("stack".into(), format!("{stack:?}"));
    let mut resources: Vec<String> = resources
        .into_iter()
        .map(|(logical, kind, _)| format!("{logical} {kind}"))
        .collect();
    resources.sort();
    state.insert("stack resources".into(), resources.join("\n"));
    state
}

/// The end state of a clean install and deploy, on an emulator of its own.
fn clean_run() -> BTreeMap<String, String> {
    let emu = emulator();
    let dir = tempfile::tempdir().unwrap();
    answers(dir.path(), ANSWERS);
    ok("clean install", &install(emu.env(), dir.path()));
    ok("clean deploy", &deploy(emu.env(), dir.path()));
    end_state(&emu, dir.path())
}

/// Keys whose values differ between the two states, with both values.
pub(crate) fn differences(
    a: &BTreeMap<String, String>,
    b: &BTreeMap<String, String>,
) -> Vec<String> {
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| format!("{k}:\n  clean: {:?}\n  other: {:?}", a.get(k), b.get(k)))
        .collect()
}

#[test]
fn at_20_percent_faults_an_install_and_a_deploy_end_as_a_clean_run_does() {
    let clean = std::thread::spawn(clean_run);
    let emu = emulator();
    // The SDK's last attempt of a call is spared, so the run cannot fail by one call drawing a
    // fault on each of its five tries; every other request is faulted at 20%.
    let proxy = FaultProxy::start(
        &emu,
        &[
            "--seed",
            "20",
            "--rate",
            "0.2",
            "--faults",
            "500,503,throttle,slow,drop,after-500,after-drop",
            "--slow-seconds",
            "0.5",
            "--spare-last-attempt",
        ],
    );
    // On top of the draws, the first attempt of each write that creates something acts and
    // loses its answer, whatever the seed: the SDK's retry must not make it twice.
    let writes = [
        "AmazonSSM.PutParameter",
        "CertificateManager.RequestCertificate",
        "POST /2020-05-31/public-key",
        "POST /v2/email/identities",
        "CreateChangeSet",
        "ExecuteChangeSet",
    ];
    let plan: Vec<_> = writes
        .iter()
        .map(|op| json!({"operation": op, "nth": 1, "fault": "after-500"}))
        .collect();
    proxy.configure(json!({ "plan": plan }));
    let dir = tempfile::tempdir().unwrap();
    answers(dir.path(), ANSWERS);
    ok(
        "install through the proxy",
        &install(proxy.env(), dir.path()),
    );
    ok("deploy through the proxy", &deploy(proxy.env(), dir.path()));
    let log = proxy.log();
    let faulted: Vec<&str> = log.iter().filter_map(|r| r["fault"].as_str()).collect();
    for kind in [
        "500",
        "503",
        "throttle",
        "slow",
        "drop",
        "after-500",
        "after-drop",
    ] {
        assert!(
            faulted.contains(&kind),
            "no {kind} among {} faults of {} requests",
            faulted.len(),
            log.len()
        );
    }
    for op in writes {
        assert!(
            log.iter().any(|r| r["operation"] == op
                && r["fault"] == "after-500"
                && r["upstream"]
                    .as_u64()
                    .is_some_and(|s| (200..300).contains(&s))),
            "{op} never acted with its answer lost"
        );
    }
    // The drawn share, the planned faults left out: 20%, give or take about four standard
    // deviations for the number of requests a run makes.
    let share = (faulted.len() - writes.len()) as f64 / log.len() as f64;
    assert!(
        (0.08..0.35).contains(&share),
        "{share:.2} of {} requests faulted",
        log.len()
    );

    let faulted = end_state(&emu, dir.path());
    let clean = clean.join().unwrap();
    assert_eq!(
        clean.get("stack").map(String::as_str),
        Some("Some(\"CREATE_COMPLETE\")")
    );
    let diff = differences(&clean, &faulted);
    assert!(diff.is_empty(), "{}", diff.join("\n"));
}

#[test]
fn faults_that_outlast_the_retries_end_the_run_naming_the_step_and_call_and_the_next_run_completes()
{
    let emu = emulator();
    let proxy = FaultProxy::start(&emu, &[]);
    // Every attempt of the one CreatePublicKey is throttled: the SDK's five tries. (An
    // operation made once per run: the plan counts occurrences per operation, not per call.)
    let op = "POST /2020-05-31/public-key";
    let plan: Vec<_> = (1..=5)
        .map(|n| json!({"operation": op, "nth": n, "fault": "throttle"}))
        .collect();
    proxy.configure(json!({ "plan": plan }));
    let dir = tempfile::tempdir().unwrap();
    answers(dir.path(), ANSWERS);
    let out = install(proxy.env(), dir.path());
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("Signing key failed: cloudfront:CreatePublicKey failed: Rate exceeded"),
        "the step and the call are named:\n{err}"
    );
    assert!(err.contains("kept throttling after retries"), "{err}");
    let throttled = proxy
        .log()
        .iter()
        .filter(|r| r["operation"] == op && r["fault"] == "throttle")
        .count();
    assert_eq!(throttled, 5, "one call, five attempts");

    // The plan is spent: the same command now runs to the end, with nothing made twice.
    ok("the re-run", &install(proxy.env(), dir.path()));
    let state = end_state(&emu, dir.path());
    assert_eq!(state["public keys"], "MedplumStagingSigningKey", "one key");
    assert!(
        state["config file"].contains("\"signingKeyId\": \"<public key 0>\""),
        "{}",
        state["config file"]
    );
    let certs: Vec<&str> = state["certificates"].lines().collect();
    assert_eq!(certs.len(), 3, "one certificate per name: {certs:?}");
}
