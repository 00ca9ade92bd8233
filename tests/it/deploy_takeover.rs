//! Scenario 7 of the deploy end to end (docs/testing.md): taking over a stack that the official
//! Medplum CDK made. The stack is created in the emulator from `@medplum/cdk` 4.0.2's own
//! synthesized template (`tests/fixtures/reference`), pointing at a real hosted zone and real
//! certificates; then medplum-init, with no journal of that environment, deploys its own
//! template over it. With the config pinned as docs/deploy-engine.md says ("Taking over a stack
//! deployed by the official CDK"), that is an in-place update: the data-risk guard lets it
//! through without `--allow-data-risk` and every resource holding data keeps its physical id.
//! Without the pins the guard refuses the Aurora major upgrade and leaves the stack alone.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Moto, root, rt, run_against, text};

const STACK: &str = "MedplumStagingStack";
const REGION: &str = "us-east-1";
/// Where `cdk deploy` would have staged the template (the CDK bootstrap's asset bucket).
const ASSETS: &str = "cdk-hnb659fds-assets-123456789012-us-east-1";
/// The placeholders in the CDK fixture: api, app and storage certificates, the hosted zone.
const CERT_PLACEHOLDERS: [(&str, &str); 3] = [
    (
        "api.staging.example.com",
        "arn:aws:acm:us-east-1:123456789012:certificate/11111111-1111-1111-1111-111111111111",
    ),
    (
        "app.staging.example.com",
        "arn:aws:acm:us-east-1:123456789012:certificate/22222222-2222-2222-2222-222222222222",
    ),
    (
        "storage.staging.example.com",
        "arn:aws:acm:us-east-1:123456789012:certificate/33333333-3333-3333-3333-333333333333",
    ),
];
const CONFIG_KEYS: [&str; 3] = ["apiSslCertArn", "appSslCertArn", "storageSslCertArn"];
const ZONE_PLACEHOLDER: &str = "Z123EXAMPLE";
/// The resource types that hold data, or the credentials to it.
const STATEFUL: [&str; 5] = [
    "AWS::RDS::DBCluster",
    "AWS::RDS::DBInstance",
    "AWS::S3::Bucket",
    "AWS::ElastiCache::ReplicationGroup",
    "AWS::SecretsManager::Secret",
];

fn reference(name: &str) -> String {
    std::fs::read_to_string(root().join("tests/fixtures/reference").join(name)).unwrap()
}

/// `text` with every `from` replaced by `to`, `from` being there `times` times.
fn replace_counted(text: &str, from: &str, to: &str, times: usize) -> String {
    assert_eq!(text.matches(from).count(), times, "{from} in the fixture");
    text.replace(from, to)
}

/// The hosted zone's bare id and the certificates' ARNs (api, app, storage), made in the
/// emulator as the CDK's lookups and config found them.
struct Environment {
    zone_id: String,
    certs: Vec<String>,
}

fn s3(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .build(),
    )
}

/// What the CDK template points at: the zone, three issued certificates, the bootstrap version.
async fn prerequisites(sdk: &aws_config::SdkConfig) -> Environment {
    let r53 = aws_sdk_route53::Client::new(sdk);
    let zone = r53
        .create_hosted_zone()
        .name("example.com")
        .caller_reference("takeover")
        .send()
        .await
        .unwrap();
    let zone_id = zone
        .hosted_zone()
        .unwrap()
        .id()
        .trim_start_matches("/hostedzone/")
        .to_string();

    let acm = aws_sdk_acm::Client::new(sdk);
    let mut certs = Vec::new();
    for (domain, _) in CERT_PLACEHOLDERS {
        let out = acm
            .request_certificate()
            .domain_name(domain)
            .validation_method(aws_sdk_acm::types::ValidationMethod::Dns)
            .send()
            .await
            .unwrap();
        certs.push(out.certificate_arn().unwrap().to_string());
    }
    // The emulator issues them after MOTO_ACM_VALIDATION_WAIT (1 s).
    let deadline = Instant::now() + Duration::from_secs(30);
    for arn in &certs {
        loop {
            let out = acm
                .describe_certificate()
                .certificate_arn(arn)
                .send()
                .await
                .unwrap();
            let status = out.certificate().and_then(|c| c.status()).cloned();
            if status == Some(aws_sdk_acm::types::CertificateStatus::Issued) {
                break;
            }
            assert!(Instant::now() < deadline, "{arn} never issued: {status:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // The template's BootstrapVersion parameter reads this, and its rule wants 6 or more.
    aws_sdk_ssm::Client::new(sdk)
        .put_parameter()
        .name("/cdk-bootstrap/hnb659fds/version")
        .value("21")
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .unwrap();
    Environment { zone_id, certs }
}

/// The CDK's template with the emulator's zone and certificates in place of its placeholders.
/// Its key group makes its own `AWS::CloudFront::PublicKey` from the config's
/// `storagePublicKey` (`signingKeyId` is empty), so no key needs registering.
fn cdk_template(env: &Environment) -> String {
    let mut t = reference("MedplumStagingStack.template.json");
    for ((_, placeholder), real) in CERT_PLACEHOLDERS.iter().zip(&env.certs) {
        t = replace_counted(&t, placeholder, real, 1);
    }
    replace_counted(&t, ZONE_PLACEHOLDER, &env.zone_id, 3)
}

/// Creates the stack as `cdk deploy` would, from a template in S3 (it is too large to send
/// inline), and waits for the create to finish. Returns the stack id.
async fn create_cdk_stack(emu: &Moto, sdk: &aws_config::SdkConfig, template: &str) -> String {
    assert!(template.len() > 51_200, "small enough to go inline");
    let s3 = s3(sdk);
    s3.create_bucket().bucket(ASSETS).send().await.unwrap();
    s3.put_object()
        .bucket(ASSETS)
        .key("MedplumStagingStack.template.json")
        .body(template.as_bytes().to_vec().into())
        .send()
        .await
        .unwrap();
    let cfn = aws_sdk_cloudformation::Client::new(sdk);
    let out = cfn
        .create_stack()
        .stack_name(STACK)
        .template_url(format!(
            "{}/{ASSETS}/MedplumStagingStack.template.json",
            emu.url
        ))
        .capabilities(aws_sdk_cloudformation::types::Capability::CapabilityIam)
        .tags(
            aws_sdk_cloudformation::types::Tag::builder()
                .key("medplum:environment")
                .value("staging")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let stack_id = out.stack_id().unwrap().to_string();

    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        let status = status_of(&cfn).await.unwrap();
        if !status.ends_with("_IN_PROGRESS") {
            break status;
        }
        assert!(Instant::now() < deadline, "the create is still {status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    if status != "CREATE_COMPLETE" {
        let events = cfn
            .describe_stack_events()
            .stack_name(STACK)
            .send()
            .await
            .unwrap();
        let failed: Vec<String> = events
            .stack_events()
            .iter()
            .filter(|e| {
                e.resource_status()
                    .is_some_and(|s| s.as_str().contains("FAILED"))
            })
            .map(|e| {
                format!(
                    "{}: {}",
                    e.logical_resource_id().unwrap_or_default(),
                    e.resource_status_reason().unwrap_or_default()
                )
            })
            .collect();
        panic!(
            "the CDK template's stack ended {status}:\n{}",
            failed.join("\n")
        );
    }
    stack_id
}

async fn status_of(cfn: &aws_sdk_cloudformation::Client) -> Option<String> {
    let out = cfn.describe_stacks().stack_name(STACK).send().await.ok()?;
    out.stacks()
        .first()
        .and_then(|s| s.stack_status())
        .map(|s| s.as_str().to_string())
}

async fn stack_id_of(cfn: &aws_sdk_cloudformation::Client) -> String {
    let out = cfn
        .describe_stacks()
        .stack_name(STACK)
        .send()
        .await
        .unwrap();
    out.stacks()[0].stack_id().unwrap().to_string()
}

/// Logical id to (type, physical id) of the stack's resources holding data.
async fn stateful(cfn: &aws_sdk_cloudformation::Client) -> BTreeMap<String, (String, String)> {
    let out = cfn
        .describe_stack_resources()
        .stack_name(STACK)
        .send()
        .await
        .unwrap();
    out.stack_resources()
        .iter()
        .filter(|r| STATEFUL.contains(&r.resource_type().unwrap_or_default()))
        .map(|r| {
            (
                r.logical_resource_id().unwrap_or_default().to_string(),
                (
                    r.resource_type().unwrap_or_default().to_string(),
                    r.physical_resource_id().unwrap_or_default().to_string(),
                ),
            )
        })
        .collect()
}

/// A call to a service this crate has no SDK for (RDS, ElastiCache, Secrets Manager): the
/// emulator routes on the credential scope and does not check signatures. Status and body.
fn call(emu: &Moto, service: &str, content_type: &str, extra: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", emu.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "POST / HTTP/1.0\r\nHost: 127.0.0.1:{}\r\nContent-Type: {content_type}\r\n{extra}\
         Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/{REGION}/{service}/aws4_request, \
         SignedHeaders=host, Signature=0\r\nContent-Length: {}\r\n\r\n{body}",
        emu.port,
        body.len()
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, body.to_string())
}

fn query(emu: &Moto, service: &str, body: &str) -> (u16, String) {
    call(emu, service, "application/x-www-form-urlencoded", "", body)
}

/// The resource exists through its own service's API, under `physical`.
fn assert_exists(emu: &Moto, sdk: &aws_config::SdkConfig, kind: &str, physical: &str) {
    let (status, body) = match kind {
        "AWS::RDS::DBCluster" => query(
            emu,
            "rds",
            &format!("Action=DescribeDBClusters&Version=2014-10-31&DBClusterIdentifier={physical}"),
        ),
        "AWS::RDS::DBInstance" => query(
            emu,
            "rds",
            &format!(
                "Action=DescribeDBInstances&Version=2014-10-31&DBInstanceIdentifier={physical}"
            ),
        ),
        "AWS::ElastiCache::ReplicationGroup" => query(
            emu,
            "elasticache",
            &format!(
                "Action=DescribeReplicationGroups&Version=2015-02-02&ReplicationGroupId={physical}"
            ),
        ),
        "AWS::SecretsManager::Secret" => call(
            emu,
            "secretsmanager",
            "application/x-amz-json-1.1",
            "X-Amz-Target: secretsmanager.DescribeSecret\r\n",
            &serde_json::json!({ "SecretId": physical }).to_string(),
        ),
        "AWS::S3::Bucket" => {
            let head = rt().block_on(s3(sdk).head_bucket().bucket(physical).send());
            assert!(head.is_ok(), "HeadBucket {physical}: {head:?}");
            return;
        }
        other => panic!("no check for {other}"),
    };
    assert_eq!(status, 200, "{kind} {physical}: {body}");
    assert!(body.contains(physical), "{kind} {physical}: {body}");
}

/// `medplum-init <args> --dir <dir> --output plain`: exit code, stdout, stderr.
fn run(emu: &Moto, dir: &Path, args: &[&str]) -> (i32, String, String) {
    let d = dir.to_str().unwrap();
    let mut all = args.to_vec();
    all.extend(["--dir", d, "--output", "plain"]);
    let out = run_against(emu, dir, &all);
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

/// The property `key` of the template's only resource of type `kind`.
fn cdk_property(template: &Value, kind: &str, key: &str) -> Value {
    let found: Vec<&Value> = template["Resources"]
        .as_object()
        .unwrap()
        .values()
        .filter(|r| r["Type"] == kind)
        .collect();
    assert_eq!(found.len(), 1, "{kind} in the CDK template");
    found[0]["Properties"][key].clone()
}

/// Writes the environment's config and context into `dir`: the reference ones with the
/// emulator's certificates and zone, and, when `pinned`, the engine version and node type the
/// CDK template deployed.
fn write_config(dir: &Path, env: &Environment, template: &Value, pinned: bool) {
    let mut cfg: Value = serde_json::from_str(&reference("medplum.staging.config.json")).unwrap();
    for ((key, (_, placeholder)), real) in CONFIG_KEYS.iter().zip(CERT_PLACEHOLDERS).zip(&env.certs)
    {
        assert_eq!(cfg[key], placeholder, "{key}");
        cfg[key] = real.as_str().into();
    }
    assert_eq!(cfg["signingKeyId"], "", "the fixture has no registered key");
    if pinned {
        cfg["rdsInstanceVersion"] = cdk_property(template, "AWS::RDS::DBCluster", "EngineVersion");
        cfg["cacheNodeType"] = cdk_property(
            template,
            "AWS::ElastiCache::ReplicationGroup",
            "CacheNodeType",
        );
    }
    std::fs::write(
        dir.join("medplum.staging.config.json"),
        serde_json::to_string_pretty(&cfg).unwrap(),
    )
    .unwrap();
    let context = replace_counted(
        &reference("cdk.context.json"),
        ZONE_PLACEHOLDER,
        &env.zone_id,
        1,
    );
    std::fs::write(dir.join("cdk.context.json"), context).unwrap();
}

/// The plan's rows (`+`, `-`, `~`, `-/+`) that name `logical`.
fn rows_naming<'a>(out: &'a str, logical: &str) -> Vec<&'a str> {
    out.lines()
        .filter(|l| l.trim_start().starts_with(['+', '-', '~', '±']))
        .filter(|l| l.split_whitespace().any(|w| w == logical))
        .collect()
}

/// Scenario 7: a stack made by `@medplum/cdk` 4.0.2 is taken over by medplum-init in place.
#[test]
fn scenario_7_a_stack_made_by_the_official_cdk_is_taken_over_without_replacing_stored_data() {
    let emu = Moto::emulator();
    let rt = rt();
    let sdk = rt.block_on(emu.sdk(REGION));
    let cfn = aws_sdk_cloudformation::Client::new(&sdk);

    // 1–2. The CDK's stack, as `cdk deploy` leaves it.
    let env = rt.block_on(prerequisites(&sdk));
    let template = cdk_template(&env);
    let parsed: Value = serde_json::from_str(&template).unwrap();
    let stack_id = rt.block_on(create_cdk_stack(&emu, &sdk, &template));
    let before = rt.block_on(stateful(&cfn));
    let count = |kind: &str| before.values().filter(|(t, _)| t == kind).count();
    assert_eq!(count("AWS::RDS::DBCluster"), 1, "{before:?}");
    assert_eq!(count("AWS::RDS::DBInstance"), 1, "{before:?}");
    assert_eq!(count("AWS::S3::Bucket"), 2, "{before:?}");
    assert_eq!(count("AWS::ElastiCache::ReplicationGroup"), 1, "{before:?}");
    assert_eq!(count("AWS::SecretsManager::Secret"), 3, "{before:?}");
    for (kind, physical) in before.values() {
        assert_exists(&emu, &sdk, kind, physical);
    }

    // Unpinned, medplum-init's defaults would upgrade Aurora 12.9 to 16.9: the guard refuses
    // (exit 2) and the stack is left as it was. In a folder of its own, so the takeover below
    // starts with no journal.
    let unpinned = tempfile::tempdir().unwrap();
    write_config(unpinned.path(), &env, &parsed, false);
    let (code, out, err) = run(&emu, unpinned.path(), &["deploy", "--yes"]);
    assert_eq!(code, 2, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.contains("\"rdsInstanceVersion\": \"12.9\""),
        "stdout:\n{out}\nstderr:\n{err}"
    );
    assert!(
        err.contains("BackEndDatabaseCluster8B2F7305"),
        "stdout:\n{out}\nstderr:\n{err}"
    );
    assert_eq!(
        rt.block_on(status_of(&cfn)).as_deref(),
        Some("CREATE_COMPLETE")
    );

    // 3. The takeover: config pinned to what the CDK deployed, and no journal.
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &env, &parsed, true);
    assert!(!dir.path().join(".medplum-init").exists());

    // 4. The diff finds changes, none of which replaces or removes stored data.
    let (code, out, err) = run(&emu, dir.path(), &["diff"]);
    assert_eq!(code, 3, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.contains("(us-east-1, update)"),
        "stdout:\n{out}\nstderr:\n{err}"
    );
    assert!(
        !out.contains("Stored data"),
        "a risk to stored data in the takeover:\nstdout:\n{out}\nstderr:\n{err}"
    );
    for logical in before.keys() {
        for row in rows_naming(&out, logical) {
            assert!(
                row.trim_start().starts_with('~'),
                "{logical} is not updated in place: {row}\nstdout:\n{out}\nstderr:\n{err}"
            );
        }
    }

    // The deploy goes through without --allow-data-risk.
    let (code, out, err) = run(&emu, dir.path(), &["deploy", "--yes"]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("Deployed."), "stdout:\n{out}\nstderr:\n{err}");
    assert_eq!(
        rt.block_on(status_of(&cfn)).as_deref(),
        Some("UPDATE_COMPLETE"),
        "stdout:\n{out}\nstderr:\n{err}"
    );
    // The same stack, updated, not a new one; the journal now records it.
    assert_eq!(rt.block_on(stack_id_of(&cfn)), stack_id);
    let journal: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join(".medplum-init/staging/state.json")).unwrap(),
    )
    .unwrap();
    let rec = &journal["extra"]["deploy"];
    assert_eq!(rec["ok"], true, "{rec}");
    assert_eq!(rec["stacks"][0]["name"], STACK, "{rec}");
    assert_eq!(rec["stacks"][0]["stack_id"], stack_id.as_str(), "{rec}");

    // Every resource holding data is the one the CDK made, and its service still has it.
    let after = rt.block_on(stateful(&cfn));
    assert_eq!(after, before, "a stateful resource was replaced or removed");
    for (kind, physical) in after.values() {
        assert_exists(&emu, &sdk, kind, physical);
    }

    // Every change set (the refused one, the diff's and the deploy's) was valid.
    let sent = emu.requests("CreateChangeSet");
    assert!(sent.len() >= 3, "{sent:?}");
    for r in &sent {
        assert!(r["error"].is_null(), "a CreateChangeSet was refused: {r}");
    }
}
