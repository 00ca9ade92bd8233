use super::*;
use crate::answers::CertChoice;
use crate::engine::journal::StepStatus;

const ARN_OURS: &str =
    "arn:aws:acm:us-east-1:123456789012:certificate/11111111-1111-1111-1111-111111111111";
const ARN_USERS: &str =
    "arn:aws:acm:us-east-1:123456789012:certificate/22222222-2222-2222-2222-222222222222";

fn journal_with_answers(dir: &Path, text: &str) -> Journal {
    let j = Journal::open(dir, "prod").unwrap();
    j.set_extra(ANSWERS_KEY, &text.to_string()).unwrap();
    j
}

fn write_config(dir: &Path, json: serde_json::Value) {
    std::fs::write(
        dir.join("medplum.prod.config.json"),
        serde_json::to_vec_pretty(&json).unwrap(),
    )
    .unwrap();
}

#[test]
fn the_config_file_wins_and_the_steps_own_values_stay_theirs() {
    let dir = tempfile::tempdir().unwrap();
    let j = journal_with_answers(
        dir.path(),
        "name = \"prod\"\ndomainName = \"example.org\"\n[certificates]\napp = \"request\"\n[server]\nsupportEmail = \"ops@example.org\"\n[parameters]\napply = true\n",
    );
    j.update::<certificates::Record, _>(StepId::Certificates, |r| {
        r.certificates.insert(
            "api".into(),
            certificates::CertRecord {
                arn: ARN_OURS.into(),
                ..Default::default()
            },
        );
    })
    .unwrap();
    j.update::<KeyRecord, _>(StepId::SigningKey, |r| {
        r.key_id = Some("K1ABCDEFGHIJKL".into())
    })
    .unwrap();
    j.set_status(StepId::SigningKey, StepStatus::Done).unwrap();
    write_config(
        dir.path(),
        serde_json::json!({
            "name": "prod",
            "domainName": "example.org",
            "apiDomainName": "api.edited.example.org",
            "apiSslCertArn": ARN_OURS,
            "appSslCertArn": ARN_USERS,
            "signingKeyId": "K1ABCDEFGHIJKL",
            "storagePublicKey": "-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY-----\n",
            "vpcId": "",
            "desiredServerCount": 2,
        }),
    );
    let r = recall(dir.path(), "prod", &j, &Overrides::default(), None).unwrap();
    let a = &r.answers;
    assert_eq!(a.api_domain(), "api.edited.example.org");
    assert_eq!(a.cdk.get("desiredServerCount"), Some(&serde_json::json!(2)));
    // Ours: found again by the step's record, not pinned as the user's certificate.
    assert_eq!(a.certificates.api, CertChoice::Auto);
    // The user's: it replaces the journal's "request".
    assert_eq!(a.certificates.app, CertChoice::Arn(ARN_USERS.into()));
    // The key medplum-init registered is not "use an existing key".
    assert_eq!(a.str("signingKeyId"), None);
    assert_eq!(a.str("storagePublicKey"), None);
    assert_eq!(a.support_email(), "ops@example.org");
    // The recorded consent to write parameters does not carry over to a re-run.
    assert!(!a.apply_parameters);
    assert_eq!(r.sources.len(), 2);
}

#[test]
fn a_key_id_the_journal_does_not_know_is_the_users_own() {
    let dir = tempfile::tempdir().unwrap();
    let j = journal_with_answers(
        dir.path(),
        "name = \"prod\"\ndomainName = \"example.org\"\n[server]\nsupportEmail = \"ops@example.org\"\n",
    );
    write_config(
        dir.path(),
        serde_json::json!({"name": "prod", "domainName": "example.org", "signingKeyId": "K2JCJMDEHXQW5F"}),
    );
    let r = recall(dir.path(), "prod", &j, &Overrides::default(), None).unwrap();
    assert_eq!(r.answers.str("signingKeyId"), Some("K2JCJMDEHXQW5F"));
}

#[test]
fn an_older_journal_gives_the_support_address_through_the_email_record() {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::open(dir.path(), "prod").unwrap();
    j.update::<email::Record, _>(StepId::Email, |r| {
        r.identity = "help@example.org".into();
        r.kind = "address".into();
    })
    .unwrap();
    write_config(
        dir.path(),
        serde_json::json!({"name": "prod", "domainName": "example.org"}),
    );
    let r = recall(dir.path(), "prod", &j, &Overrides::default(), None).unwrap();
    assert_eq!(r.answers.support_email(), "help@example.org");
    assert_eq!(r.sources, vec!["medplum.prod.config.json".to_string()]);
}

#[test]
fn without_answers_or_an_address_it_asks_for_an_answers_file() {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::open(dir.path(), "prod").unwrap();
    write_config(
        dir.path(),
        serde_json::json!({"name": "prod", "domainName": "example.org"}),
    );
    let e = recall(dir.path(), "prod", &j, &Overrides::default(), None).unwrap_err();
    assert!(matches!(e, RecallError::NoSupportEmail { .. }), "{e}");
    use crate::error::Diagnostic;
    assert_eq!(e.outcome(), crate::outcome::Outcome::Invalid);
    assert!(e.hint().unwrap().contains("--answers"));
}

#[test]
fn no_config_file_means_no_installed_environment() {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::open(dir.path(), "prod").unwrap();
    let e = recall(dir.path(), "prod", &j, &Overrides::default(), None).unwrap_err();
    assert!(matches!(e, RecallError::NoConfig { .. }), "{e}");
}

#[test]
fn a_hand_edit_that_breaks_a_rule_is_refused_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let j = journal_with_answers(
        dir.path(),
        "name = \"prod\"\ndomainName = \"example.org\"\n[server]\nsupportEmail = \"ops@example.org\"\n",
    );
    write_config(
        dir.path(),
        serde_json::json!({"name": "prod", "domainName": "example.org", "region": "mars-1"}),
    );
    let e = recall(dir.path(), "prod", &j, &Overrides::default(), None).unwrap_err();
    let RecallError::Invalid(inv) = e else {
        panic!("{e}")
    };
    assert!(inv.errors.iter().any(|e| e.key == "region"), "{inv}");
}

#[test]
fn seeded_outputs_are_the_installed_values() {
    let doc = ConfigDocument {
        map: serde_json::json!({
            "accountNumber": "123456789012",
            "apiSslCertArn": ARN_OURS,
            "storageSslCertArn": "",
            "signingKeyId": "K1ABCDEFGHIJKL",
            "storagePublicKey": "PEM",
        })
        .as_object()
        .unwrap()
        .clone(),
    };
    let outputs = Outputs::default();
    seed_outputs(&outputs, &doc);
    let o = outputs.get();
    assert_eq!(o.account.as_deref(), Some("123456789012"));
    assert_eq!(
        o.certificates.get("api").map(String::as_str),
        Some(ARN_OURS)
    );
    assert!(!o.certificates.contains_key("storage"));
    assert_eq!(o.signing_key_id.as_deref(), Some("K1ABCDEFGHIJKL"));
}

#[test]
fn an_answers_file_changes_only_what_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let j = journal_with_answers(
        dir.path(),
        "name = \"prod\"\ndomainName = \"example.org\"\n[server]\nsupportEmail = \"ops@example.org\"\nlogLevel = \"INFO\"\n",
    );
    write_config(
        dir.path(),
        serde_json::json!({"name": "prod", "domainName": "example.org", "apiPort": 8104, "appSslCertArn": ARN_USERS}),
    );
    let given = Given {
        text: "[server]\nsupportEmail = \"help@example.org\"\n[certificates]\napp = \"request\"\n",
        source: "change.toml",
    };
    let r = recall(dir.path(), "prod", &j, &Overrides::default(), Some(given)).unwrap();
    assert_eq!(r.answers.support_email(), "help@example.org");
    assert_eq!(r.answers.server_value("logLevel"), Some("INFO"));
    assert_eq!(r.answers.api_port(), 8104);
    assert_eq!(r.answers.certificates.app, CertChoice::Request);
    assert_eq!(r.sources.last().map(String::as_str), Some("change.toml"));

    let bad = Given {
        text: "apiPort = \"x\"\n",
        source: "change.toml",
    };
    let e = recall(dir.path(), "prod", &j, &Overrides::default(), Some(bad)).unwrap_err();
    let RecallError::Invalid(inv) = e else {
        panic!("{e}")
    };
    assert!(
        inv.errors
            .iter()
            .any(|e| e.key == "apiPort" && e.line.is_none()),
        "{inv}"
    );
}
