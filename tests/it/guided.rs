//! The guided install's library side against moto: the look-ups and the review's preview only
//! read, and the preview foretells what the run then does.

use std::sync::Arc;

use medplum_init::answers::{Answers, Overrides};
use medplum_init::aws::AwsClients;
use medplum_init::engine::{CallStatus, Cancel, Ctx, Event, EventSink, Journal, Outputs, Runner};
use medplum_init::steps::lookup;
use medplum_init::steps::preview::{self, CertAction, KeyPlan, LineChange};

use crate::harness::{Moto, rt};

const ANSWERS: &str = "name = \"staging\"\n\
    domainName = \"example.com\"\n\
    [email]\n\
    identity = \"skip\"\n\
    [server]\n\
    supportEmail = \"support@example.com\"\n";

fn ctx(
    aws: &AwsClients,
    dir: &std::path::Path,
    journal: Journal,
    events: EventSink,
    yes: bool,
) -> Ctx {
    ctx_with(ANSWERS, aws, dir, journal, events, yes)
}

fn ctx_with(
    answers: &str,
    aws: &AwsClients,
    dir: &std::path::Path,
    journal: Journal,
    events: EventSink,
    yes: bool,
) -> Ctx {
    Ctx {
        answers: Arc::new(Answers::from_toml(answers, "test", &Overrides::default()).unwrap()),
        dir: dir.to_path_buf(),
        journal,
        aws: Some(aws.clone()),
        events,
        outputs: Outputs::default(),
        dry_run: false,
        yes,
        cancel: Cancel::new(),
    }
}

const READS: &[&str] = &[
    "GetCallerIdentity",
    "ListCertificates",
    "DescribeCertificate",
    "ListTagsForCertificate",
    "GetParametersByPath",
    "GetEmailIdentity",
    "HeadBucket",
    "ListHostedZones",
];

#[test]
fn preview_writes_nothing_and_foretells_the_run() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    rt().block_on(async {
        let sdk = moto.sdk("us-east-1").await;
        let aws = AwsClients::from_sdk_config(sdk.clone());
        aws_sdk_route53::Client::new(&sdk)
            .create_hosted_zone()
            .name("example.com")
            .caller_reference("test")
            .send()
            .await
            .unwrap();

        let (events, mut rx) = EventSink::channel();
        let ro = Journal::read_only(dir.path(), "staging").unwrap();
        let first = preview::preview(&ctx(&aws, dir.path(), ro, events.clone(), false))
            .await
            .unwrap();
        assert_eq!(first.account.as_deref(), Some("123456789012"));
        assert_eq!(first.certificates.len(), 3);
        assert!(
            first
                .certificates
                .iter()
                .all(|c| c.action == CertAction::Request)
        );
        assert_eq!(first.certificates[1].region, "us-east-1");
        assert_eq!(first.signing_key, KeyPlan::Generate);
        // SES is left alone here: moto 5.2.5 has no sesv2 GetAccount, which the email step
        // calls for the sandbox status; the email plan has its own test below.
        assert!(first.email.is_none());
        let (add, change, same) = first.parameter_counts();
        assert_eq!((change, same), (0, 0));
        assert!(add >= 8, "{:?}", first.parameters);
        let key = first
            .parameters
            .iter()
            .find(|p| p.name == "/medplum/staging/signingKey")
            .unwrap();
        assert_eq!(key.new, "****");
        assert!(!first.config_exists);
        assert!(first.config.iter().all(|l| l.change == LineChange::Added));
        assert!(
            first
                .config
                .iter()
                .any(|l| l.key == "apiSslCertArn" && l.value == preview::NEW_CERTIFICATE)
        );

        // Nothing was written: no files, no certificate, no parameter.
        assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
        let acm = aws_sdk_acm::Client::new(&sdk);
        let listed = acm.list_certificates().send().await.unwrap();
        assert!(listed.certificate_summary_list().is_empty());
        let ssm = aws_sdk_ssm::Client::new(&sdk);
        let params = ssm
            .get_parameters_by_path()
            .path("/medplum/staging/")
            .send()
            .await
            .unwrap();
        assert!(params.parameters().is_empty());
        // And every call it announced was a read.
        while let Ok(ev) = rx.try_recv() {
            if let Event::AwsCall {
                operation, status, ..
            } = ev
            {
                assert!(READS.contains(&operation.as_str()), "wrote: {operation}");
                assert_ne!(status, CallStatus::Failed, "{operation} failed");
            }
        }

        let journal = Journal::open(dir.path(), "staging").unwrap();
        let report = Runner::new(medplum_init::steps::all())
            .run(&ctx(&aws, dir.path(), journal, EventSink::discard(), true))
            .await;
        assert!(report.ok, "{report:?}");
        let config: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("medplum.staging.config.json")).unwrap(),
        )
        .unwrap();

        let ro = Journal::read_only(dir.path(), "staging").unwrap();
        let again = preview::preview(&ctx(&aws, dir.path(), ro, EventSink::discard(), false))
            .await
            .unwrap();
        for (plan, key) in
            again
                .certificates
                .iter()
                .zip(["apiSslCertArn", "appSslCertArn", "storageSslCertArn"])
        {
            let arn = match &plan.action {
                CertAction::Resume { arn, .. } | CertAction::Reuse { arn } => arn,
                other => panic!("{key}: {other:?}"),
            };
            assert_eq!(config[key], arn.as_str(), "{key}");
        }
        assert_eq!(
            again.signing_key,
            KeyPlan::Recorded {
                id: config["signingKeyId"].as_str().unwrap().to_string()
            }
        );
        let (add, change, _) = again.parameter_counts();
        assert_eq!((add, change), (0, 0), "{:?}", again.parameters);
        assert!(again.config_exists);
        let changed: Vec<_> = again
            .config
            .iter()
            .filter(|l| l.change != LineChange::Same)
            .collect();
        assert!(changed.is_empty(), "{changed:?}");
    });
}

#[test]
fn lookups_list_zones_and_issued_certificates() {
    let moto = Moto::start();
    rt().block_on(async {
        let sdk = moto.sdk("us-east-1").await;
        let aws = AwsClients::from_sdk_config(sdk.clone());
        let r53 = aws_sdk_route53::Client::new(&sdk);
        for zone in ["example.com", "example.org"] {
            r53.create_hosted_zone()
                .name(zone)
                .caller_reference(zone)
                .send()
                .await
                .unwrap();
        }
        let acm = aws_sdk_acm::Client::new(&sdk);
        let arn = acm
            .request_certificate()
            .domain_name("*.example.com")
            .validation_method(aws_sdk_acm::types::ValidationMethod::Dns)
            .send()
            .await
            .unwrap()
            .certificate_arn()
            .unwrap()
            .to_string();
        let events = EventSink::discard();
        let cancel = medplum_init::engine::Cancel::new();
        let caller = lookup::caller(&aws, &events, &cancel).await.unwrap();
        assert_eq!(caller.account, "123456789012");
        let zones = lookup::hosted_zones(&aws, &events, &cancel).await.unwrap();
        let names: Vec<_> = zones.iter().map(|z| z.name.as_str()).collect();
        assert_eq!(names, ["example.com", "example.org"]);
        // moto issues a requested certificate after MOTO_ACM_VALIDATION_WAIT (1 s here).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let issued = loop {
            let list = lookup::issued_certificates(&aws, &events, &cancel, "us-east-1")
                .await
                .unwrap();
            if !list.is_empty() || std::time::Instant::now() > deadline {
                break list;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        assert!(!issued.is_empty(), "the certificate was never issued");
        assert_eq!(issued[0].arn, arn);
        assert!(issued[0].covers("api.example.com"));
        assert!(!issued[0].covers("api.staging.example.com"));
        let elsewhere = lookup::issued_certificates(&aws, &events, &cancel, "eu-west-1")
            .await
            .unwrap();
        assert!(elsewhere.is_empty());
    });
}

#[test]
fn preview_tells_whether_ses_knows_the_address() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let text = ANSWERS.replace("identity = \"skip\"", "identity = \"address\"");
    rt().block_on(async {
        let sdk = moto.sdk("us-east-1").await;
        let aws = AwsClients::from_sdk_config(sdk.clone());
        let look = || {
            let journal = Journal::read_only(dir.path(), "staging").unwrap();
            let c = ctx_with(
                &text,
                &aws,
                dir.path(),
                journal,
                EventSink::discard(),
                false,
            );
            async move { preview::preview(&c).await.unwrap().email.unwrap() }
        };
        let before = look().await;
        assert_eq!(before.identity, "support@example.com");
        assert!(!before.exists);
        aws_sdk_sesv2::Client::new(&sdk)
            .create_email_identity()
            .email_identity("support@example.com")
            .send()
            .await
            .unwrap();
        assert!(look().await.exists);
    });
}
