use super::*;
use crate::config::infra::InfraConfig;
use crate::crypto::Secret;
use crate::status::facts::{Identity, Param};

const DAY: i64 = 86_400;
const NOW: i64 = 1_800_000_000;

fn config() -> InfraConfig {
    let text = include_str!("../../tests/fixtures/reference/medplum.staging.config.json");
    InfraConfig::from_map(serde_json::from_str(text).unwrap()).unwrap()
}

fn cert(status: &str, days: i64, renewal: &str, in_use: usize) -> CertFacts {
    CertFacts {
        label: "app",
        key: "appSslCertArn",
        arn: "arn:aws:acm:us-east-1:123456789012:certificate/abc".into(),
        want_region: "us-east-1".into(),
        name: "app.example.com".into(),
        read: Ok(Some(CertDetail {
            status: status.into(),
            domain: Some("app.example.com".into()),
            sans: vec!["app.example.com".into()],
            not_after: Some(NOW + days * DAY),
            renewal: Some(renewal.into()),
            in_use,
        })),
        stack_deployed: true,
    }
}

#[test]
fn certificates_by_status_cover_region_use_and_expiry() {
    let c = certificate(&cert("ISSUED", 200, "ELIGIBLE", 1), NOW);
    assert_eq!(c.verdict, Verdict::Healthy, "{c:?}");
    assert_eq!(
        c.detail,
        "ISSUED for app.example.com, expires in 200 days (renewal ELIGIBLE)"
    );
    let c = certificate(&cert("PENDING_VALIDATION", 200, "ELIGIBLE", 0), NOW);
    assert_eq!(c.verdict, Verdict::Unhealthy);
    assert!(c.fix.unwrap().contains("DNS validation record"));
    assert_eq!(
        certificate(&cert("ISSUED", 20, "ELIGIBLE", 1), NOW).verdict,
        Verdict::Warning
    );
    assert_eq!(
        certificate(&cert("ISSUED", 20, "INELIGIBLE", 1), NOW).verdict,
        Verdict::Unhealthy
    );
    assert_eq!(
        certificate(&cert("ISSUED", -1, "ELIGIBLE", 1), NOW).verdict,
        Verdict::Unhealthy
    );
    let unused = certificate(&cert("ISSUED", 200, "ELIGIBLE", 0), NOW);
    assert_eq!(unused.verdict, Verdict::Warning);
    assert!(unused.detail.contains("not in use"), "{unused:?}");

    let mut other = cert("ISSUED", 200, "ELIGIBLE", 1);
    other.name = "files.example.org".into();
    let c = certificate(&other, NOW);
    assert_eq!(c.verdict, Verdict::Unhealthy);
    assert!(
        c.detail.contains("does not cover files.example.org"),
        "{c:?}"
    );

    let mut wrong = cert("ISSUED", 200, "ELIGIBLE", 1);
    wrong.arn = "arn:aws:acm:eu-west-1:123456789012:certificate/abc".into();
    let c = certificate(&wrong, NOW);
    assert!(c.detail.contains("is in eu-west-1, not us-east-1"), "{c:?}");

    let mut failed = cert("ISSUED", 200, "ELIGIBLE", 1);
    failed.read = Err("AccessDenied".into());
    let c = certificate(&failed, NOW);
    assert_eq!(c.verdict, Verdict::Unknown);
    assert!(c.verdict.fails());
}

#[test]
fn email_needs_a_verified_identity_and_warns_in_the_sandbox() {
    let facts = |verified: bool, production: Result<bool, String>| {
        Ok(Some(EmailFacts {
            address: "support@example.com".into(),
            identity: Some(Identity {
                name: "example.com".into(),
                verified,
                dkim: Some("SUCCESS".into()),
            }),
            production,
        }))
    };
    let c = email(&facts(true, Ok(true)));
    assert_eq!(
        c.iter().map(|c| c.verdict).collect::<Vec<_>>(),
        [Verdict::Healthy, Verdict::Healthy]
    );
    assert_eq!(c[0].detail, "example.com verified, DKIM SUCCESS");
    let c = email(&facts(true, Ok(false)));
    assert_eq!(c[1].verdict, Verdict::Warning);
    assert!(c[1].fix.as_deref().unwrap().contains("production access"));
    let c = email(&facts(false, Err("no GetAccount".into())));
    assert_eq!(c[0].verdict, Verdict::Unhealthy);
    assert!(c[0].fix.as_deref().unwrap().contains("DKIM"));
    assert_eq!(c[1].verdict, Verdict::Unknown);
}

fn param(kind: &str, value: &str, version: i64) -> Param {
    Param {
        kind: kind.into(),
        value: Secret::new(value.into()),
        version,
    }
}

fn facts(params: BTreeMap<String, Param>) -> Facts {
    Facts {
        env: "staging".into(),
        now_secs: NOW,
        certificates: vec![],
        email: Ok(None),
        parameters: Ok(params),
        written: BTreeMap::new(),
        public_key: Ok(None),
        key_group: None,
        stacks: vec![StackFacts {
            name: "MedplumStaging".into(),
            region: "us-east-1".into(),
            status: Ok(None),
        }],
        server_image: None,
        app: None,
        rotation: None,
        drift: None,
    }
}

/// Every parameter the server requires, as the config implies them.
fn good_params(c: &InfraConfig) -> BTreeMap<String, Param> {
    let mut m: BTreeMap<String, Param> = expected(c)
        .into_iter()
        .map(|(k, v)| (k.to_string(), param("SecureString", &v, 1)))
        .collect();
    for k in [
        "signingKey",
        "signingKeyPassphrase",
        "signingKeyId",
        "supportEmail",
    ] {
        m.entry(k.into())
            .or_insert_with(|| param("SecureString", "x", 1));
    }
    m
}

#[test]
fn parameters_required_typed_and_as_the_config_implies() {
    let c = config();
    let f = facts(good_params(&c));
    let checks = parameters(&f, &c);
    assert!(
        checks.iter().all(|c| c.verdict == Verdict::Healthy),
        "{checks:#?}"
    );
    // Secrets are never shown.
    assert!(
        checks
            .iter()
            .all(|c| !c.detail.contains('x') || !c.name.ends_with("signingKey"))
    );

    let mut p = good_params(&c);
    p.remove("supportEmail");
    p.insert(
        "baseUrl".into(),
        param("SecureString", "https://old.example.com/", 2),
    );
    p.insert(
        "appBaseUrl".into(),
        param("String", "https://app.example.com/", 1),
    );
    let mut f = facts(p);
    f.written.insert("/medplum/staging/logLevel".into(), 3);
    let checks = parameters(&f, &c);
    let bad: Vec<(&str, Verdict)> = checks
        .iter()
        .filter(|c| c.verdict != Verdict::Healthy)
        .map(|c| (c.name.as_str(), c.verdict))
        .collect();
    assert_eq!(
        bad,
        [
            ("/medplum/staging/baseUrl", Verdict::Unhealthy),
            ("/medplum/staging/appBaseUrl", Verdict::Unhealthy),
            ("/medplum/staging/supportEmail", Verdict::Unhealthy),
            ("/medplum/staging/logLevel", Verdict::Warning),
        ],
        "{checks:#?}"
    );
    let base = checks
        .iter()
        .find(|c| c.name.ends_with("/baseUrl"))
        .unwrap();
    assert!(
        base.detail.contains("the config implies 'https://api."),
        "{base:?}"
    );
}

#[test]
fn the_stacks_parameters_are_required_once_it_is_deployed() {
    let c = config();
    let mut f = facts(good_params(&c));
    f.stacks[0].status = Ok(Some("CREATE_COMPLETE".into()));
    let missing: Vec<String> = parameters(&f, &c)
        .into_iter()
        .filter(|c| c.verdict == Verdict::Unhealthy)
        .map(|c| c.name)
        .collect();
    assert!(
        missing.contains(&"/medplum/staging/DatabaseSecrets".to_string()),
        "{missing:?}"
    );
}

#[test]
fn the_signing_key_must_decrypt_match_cloudfront_and_be_in_the_key_group() {
    let pair = crate::crypto::keypair::SigningKeyPair::generate().unwrap();
    let mut c = config();
    c.signing_key_id = Some("K2JCJMDEHXQW5F".into());
    c.storage_public_key = Some(pair.public_pem.clone());
    let mut p = good_params(&c);
    p.insert(
        "signingKey".into(),
        param("SecureString", pair.private_pem.expose(), 1),
    );
    p.insert(
        "signingKeyPassphrase".into(),
        param("SecureString", pair.passphrase.expose(), 1),
    );
    let mut f = facts(p);
    f.public_key = Ok(Some(pair.public_pem.clone()));
    f.key_group = Some(Ok(vec!["K2JCJMDEHXQW5F".into()]));
    let checks = signing_key(&f, &c);
    assert!(
        checks.iter().all(|c| c.verdict == Verdict::Healthy),
        "{checks:#?}"
    );
    assert_eq!(checks.len(), 3);

    // Another key in CloudFront, a key group still on the old key, a wrong passphrase.
    let other = crate::crypto::keypair::SigningKeyPair::generate().unwrap();
    f.public_key = Ok(Some(other.public_pem.clone()));
    f.key_group = Some(Ok(vec!["KOLDKEY0000001".into()]));
    let checks = signing_key(&f, &c);
    assert_eq!(checks[1].verdict, Verdict::Unhealthy);
    assert!(checks[1].detail.contains("not its pair"), "{checks:#?}");
    assert!(checks[1].detail.contains("storagePublicKey"), "{checks:#?}");
    assert!(
        checks[2]
            .detail
            .contains("KOLDKEY0000001, not K2JCJMDEHXQW5F")
    );
    if let Ok(p) = &mut f.parameters {
        p.insert(
            "signingKeyPassphrase".into(),
            param("SecureString", "wrong", 2),
        );
    }
    let checks = signing_key(&f, &c);
    assert_eq!(checks[0].verdict, Verdict::Unhealthy);
    assert!(checks[0].detail.contains("does not decrypt"));
    // No secret in any line.
    for ch in &checks {
        assert!(
            !ch.detail.contains("PRIVATE KEY") && !ch.detail.contains(pair.passphrase.expose())
        );
    }
}

#[test]
fn stacks_by_status_image_and_app() {
    let c = config();
    let mut f = facts(BTreeMap::new());
    f.stacks[0].status = Ok(Some("UPDATE_ROLLBACK_COMPLETE".into()));
    f.server_image = Some(Ok(Some("medplum/medplum-server:4.0.0".into())));
    let checks = stacks(&f, &c);
    assert_eq!(checks[0].verdict, Verdict::Unhealthy, "{checks:#?}");
    assert_eq!(checks[1].verdict, Verdict::Warning);
    assert!(checks[1].detail.contains("the config says"), "{checks:#?}");
    assert_eq!(checks[2].name, "web app");
    assert_eq!(checks[2].verdict, Verdict::Warning);
    f.stacks[0].status = Ok(Some("UPDATE_COMPLETE".into()));
    f.server_image = Some(Ok(Some(c.server_image.clone())));
    let checks = stacks(&f, &c);
    assert_eq!(checks[0].verdict, Verdict::Healthy);
    assert_eq!(checks[1].verdict, Verdict::Healthy);
    f.stacks[0].status = Ok(None);
    let checks = stacks(&f, &c);
    assert_eq!(checks[0].detail, "not deployed");
    assert_eq!(
        checks.len(),
        2,
        "no web app check without a stack: {checks:#?}"
    );
}

#[test]
fn a_rotation_in_progress_is_a_warning_that_says_when_it_may_finish() {
    let c = config();
    let mut f = facts(BTreeMap::new());
    assert!(rotation(&f).is_empty());
    let mut r = crate::rotate::Rotation::new(
        "K1OLDKEYABCDEF".into(),
        None,
        std::time::Duration::from_secs(3900),
    );
    r.stage = crate::rotate::Stage::Written;
    f.rotation = Some(r.clone());
    let checks = rotation(&f);
    assert_eq!(checks[0].verdict, Verdict::Warning);
    assert!(
        checks[0].detail.contains("stage 4 of 5 next"),
        "{checks:#?}"
    );
    assert!(
        checks[0]
            .fix
            .as_deref()
            .unwrap()
            .contains("rotate signing-key")
    );
    r.stage = crate::rotate::Stage::Restarted;
    r.restarted_at = Some("2027-01-15T08:00:00Z".into());
    f.rotation = Some(r);
    f.now_secs = 1_800_000_000;
    let checks = rotation(&f);
    assert!(
        checks[0]
            .detail
            .contains("may finish after 2027-01-15T09:05:00Z"),
        "{checks:#?}"
    );
    assert!(checks[0].fix.as_deref().unwrap().contains("--finish"));
    let _ = c;
}

#[test]
fn drift_is_a_line_per_resource_deleted_ones_unhealthy() {
    use crate::status::facts::{DriftFacts, Drifted};
    let c = config();
    let mut f = facts(BTreeMap::new());
    assert!(drift(&f, &c).is_empty(), "no stack, no drift check");
    f.drift = Some(Ok(DriftFacts::InSync));
    assert_eq!(drift(&f, &c)[0].verdict, Verdict::Healthy);
    f.drift = Some(Ok(DriftFacts::StillRunning));
    assert_eq!(drift(&f, &c)[0].verdict, Verdict::Warning);
    f.drift = Some(Ok(DriftFacts::Drifted(vec![
        Drifted {
            logical_id: "StorageBucket".into(),
            resource_type: "AWS::S3::Bucket".into(),
            status: "MODIFIED".into(),
            properties: vec!["/Properties/VersioningConfiguration".into()],
        },
        Drifted {
            logical_id: "BackEndRedisSecurityGroup".into(),
            resource_type: "AWS::EC2::SecurityGroup".into(),
            status: "DELETED".into(),
            properties: vec![],
        },
    ])));
    let checks = drift(&f, &c);
    assert_eq!(checks.len(), 2);
    assert_eq!(checks[0].verdict, Verdict::Warning);
    assert!(
        checks[0]
            .detail
            .contains("/Properties/VersioningConfiguration")
    );
    assert_eq!(checks[1].verdict, Verdict::Unhealthy);
    assert!(checks[1].name.contains("BackEndRedisSecurityGroup"));
    f.drift = Some(Err("AccessDenied".into()));
    assert_eq!(drift(&f, &c)[0].verdict, Verdict::Unknown);
}
