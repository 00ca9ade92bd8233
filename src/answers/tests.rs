use super::*;

fn load(text: &str) -> Result<Answers, AnswersInvalid> {
    Answers::from_toml(text, "answers.toml", &Overrides::default())
}

const MINIMAL: &str = "name = \"staging\"\ndomainName = \"example.com\"\n[server]\nsupportEmail = \"support@example.com\"\n";

#[test]
fn minimal_answers_get_medplum_defaults() {
    let a = load(MINIMAL).unwrap();
    assert_eq!(a.stack_name(), "MedplumStaging");
    assert_eq!(a.region(), "us-east-1");
    assert_eq!(a.api_domain(), "api.example.com");
    assert_eq!(a.app_domain(), "app.example.com");
    assert_eq!(a.storage_domain(), "storage.example.com");
    assert_eq!(a.storage_bucket(), "storage.example.com");
    assert_eq!(a.api_port(), 8103);
    assert_eq!(a.str("baseUrl"), Some("https://api.example.com/"));
    assert_eq!(a.cdk["serverCpu"], 256);
    assert_eq!(a.cdk["serverMemory"], 512);
    assert_eq!(a.certificates.api, CertChoice::Auto);
    assert_eq!(a.email, EmailIdentity::Address);
    assert!(!a.apply_parameters && !a.deploy);
    assert_eq!(a.given, ["name", "domainName"]);
}

#[test]
fn five_mistakes_five_errors_with_lines() {
    let text = "\
name = \"Staging!\"
domainName = \"example.com\"
apiPort = \"8103\"
accountNumber = \"12345\"
domianName = \"x.com\"
serverCpu = 256
serverMemory = 4096
[server]
supportEmail = \"not-an-email\"
";
    let err = load(text).unwrap_err();
    let got: Vec<(&str, Option<usize>)> = err
        .errors
        .iter()
        .map(|e| (e.key.as_str(), e.line))
        .collect();
    assert_eq!(
        got,
        [
            ("apiPort", Some(3)),
            ("domianName", Some(5)),
            ("name", Some(1)),
            ("accountNumber", Some(4)),
            ("serverMemory", Some(7)),
            ("server.supportEmail", Some(9)),
        ],
        "{err}"
    );
    let text = err.to_string();
    assert!(text.contains("did you mean 'domainName'?"), "{text}");
    assert!(
        text.contains("write it without quotes: apiPort = 8103"),
        "{text}"
    );
}

#[test]
fn env_and_region_flags_must_agree() {
    let ov = Overrides {
        env: Some("prod".into()),
        region: Some("eu-west-1".into()),
    };
    let err = Answers::from_toml(MINIMAL, "a", &ov).unwrap_err();
    assert_eq!(err.errors.len(), 1, "{err}");
    assert_eq!(err.errors[0].key, "name");
    let no_name = "domainName = \"example.com\"\n[server]\nsupportEmail = \"a@example.com\"\n";
    let a = Answers::from_toml(no_name, "a", &ov).unwrap();
    assert_eq!(a.env(), "prod");
    assert_eq!(a.region(), "eu-west-1");
    assert_eq!(a.stack_name(), "MedplumProd");
}

#[test]
fn missing_required_answers_are_all_reported() {
    let err = load("").unwrap_err();
    let keys: Vec<_> = err.errors.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["name", "domainName", "server.supportEmail"]);
}

#[test]
fn certificate_regions_are_checked() {
    let text = format!(
        "{MINIMAL}\n"
    )
    .replace(
        "[server]",
        "region = \"eu-west-1\"\napiSslCertArn = \"arn:aws:acm:us-east-1:123456789012:certificate/abc\"\nappSslCertArn = \"arn:aws:acm:eu-west-1:123456789012:certificate/abc\"\n[server]",
    );
    let err = load(&text).unwrap_err();
    let keys: Vec<_> = err.errors.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["apiSslCertArn", "appSslCertArn"], "{err}");
    assert!(err.errors[0].problem.contains("must be in eu-west-1"));
    assert!(err.errors[1].problem.contains("must be in us-east-1"));
}

#[test]
fn certificate_arn_in_cdk_key_becomes_the_choice() {
    let arn = "arn:aws:acm:us-east-1:123456789012:certificate/abc";
    let text = MINIMAL.replace("[server]", &format!("apiSslCertArn = \"{arn}\"\n[certificates]\napp = \"request\"\nstorage = \"skip\"\n[server]"));
    let a = load(&text).unwrap();
    assert_eq!(a.certificates.api, CertChoice::Arn(arn.into()));
    assert_eq!(a.certificates.app, CertChoice::Request);
    assert_eq!(a.certificates.storage, CertChoice::Skip);
    let conflict = MINIMAL.replace(
        "[server]",
        &format!("apiSslCertArn = \"{arn}\"\n[certificates]\napi = \"request\"\n[server]"),
    );
    assert_eq!(
        load(&conflict).unwrap_err().errors[0].key,
        "certificates.api"
    );
}

#[test]
fn server_keys_are_typed_flattened_and_guarded() {
    let text = format!(
        "{MINIMAL}registerEnabled = false\nallowedOrigins = [\"https://a.example.com\", \"https://b.example.com\"]\n\
         database.ssl.require = true\nsmtp = {{ host = \"smtp.example.com\", port = 587 }}\ngoogleClientSecret = \"s3cr3t\"\n"
    );
    let a = load(&text).unwrap();
    assert_eq!(a.server_value("registerEnabled"), Some("false"));
    assert_eq!(
        a.server_value("allowedOrigins"),
        Some("https://a.example.com,https://b.example.com")
    );
    assert_eq!(a.server_value("database.ssl.require"), Some("true"));
    assert_eq!(
        a.server_value("smtp"),
        Some(r#"{"host":"smtp.example.com","port":587}"#)
    );
    let secret = a
        .server
        .iter()
        .find(|(k, _)| k == "googleClientSecret")
        .unwrap();
    assert!(secret.1.is_secret());
    assert!(
        !format!("{a:?}").contains("s3cr3t"),
        "Debug must mask secrets"
    );

    let bad = format!(
        "{MINIMAL}awsRegion = \"us-east-1\"\nbaseUrl = \"https://x.example.com/\"\nsigningKey = \"x\"\nregisterEnabld = true\nlogLevel = \"LOUD\"\n"
    );
    let err = load(&bad).unwrap_err();
    let keys: Vec<_> = err.errors.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "server.awsRegion",
            "server.baseUrl",
            "server.signingKey",
            "server.registerEnabld",
            "server.logLevel"
        ],
        "{err}"
    );
    assert!(err.to_string().contains("did you mean 'registerEnabled'?"));
}

#[test]
fn domains_must_be_in_the_zone_unless_dns_is_skipped() {
    let text = MINIMAL.replace("[server]", "apiDomainName = \"api.other.org\"\n[server]");
    assert_eq!(load(&text).unwrap_err().errors[0].key, "apiDomainName");
    let skipped = MINIMAL.replace(
        "[server]",
        "apiDomainName = \"api.other.org\"\nskipDns = true\n[server]",
    );
    assert!(load(&skipped).is_ok());
}

#[test]
fn tool_tables_reject_unknown_keys_and_values() {
    let text = format!(
        "{}\n[email]\nidentity = \"carrier-pigeon\"\n[certificates]\nwiat = true\n",
        MINIMAL
    );
    let err = load(&text).unwrap_err();
    let keys: Vec<_> = err.errors.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["certificates.wiat", "email.identity"], "{err}");
    assert!(err.to_string().contains("did you mean 'wait'?"));
}

#[test]
fn syntax_errors_stop_early_with_a_line() {
    let err = load("name = \"x\"\ndomainName = \n").unwrap_err();
    assert_eq!(err.errors[0].key, "(syntax)");
    assert_eq!(err.errors[0].line, Some(2));
}

#[test]
fn old_redis_node_type_warns() {
    let text = MINIMAL.replace("[server]", "cacheNodeType = \"cache.t2.medium\"\n[server]");
    let a = load(&text).unwrap();
    assert_eq!(a.warnings.len(), 1);
    assert_eq!(a.warnings[0].key, "cacheNodeType");
}

#[test]
fn misplaced_keys_are_pointed_to_their_table() {
    let text = "name = \"x\"\ndomainName = \"example.com\"\nsupportEmail = \"a@example.com\"\n[server]\nregion = \"eu-west-1\"\n";
    let err = load(text).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("move it into the [server] table"), "{text}");
    assert!(
        text.contains("move region above the [server] table"),
        "{text}"
    );
}
