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

#[test]
fn integers_that_would_wrap_are_out_of_range_not_accepted() {
    // 4294967552 = 2^32 + 256: as a u32 it would wrap to 256, a valid Fargate size.
    for (key, value) in [
        ("serverCpu", "4294967552"),
        ("serverMemory", "4294967808"),
        ("serverCpu", "-256"),
    ] {
        let text = MINIMAL.replace("[server]", &format!("{key} = {value}\n[server]"));
        let err = load(&text).unwrap_err();
        let e = err
            .errors
            .iter()
            .find(|e| e.key == key)
            .unwrap_or_else(|| panic!("{err}"));
        assert!(e.problem.contains("out of range"), "{e}");
        assert!(e.fix.starts_with("use ") && e.fix.contains(" to "), "{e}");
        assert_eq!(e.line, Some(3));
    }
}

#[test]
fn echoed_values_cannot_drive_the_terminal_or_flood_it() {
    // TOML escapes: the parsed value holds raw ESC and BEL characters.
    let text = MINIMAL.replace(
        "[server]",
        "region = \"\\u001b]0;pwned\\u0007\\u001b[2J\"\n[server]",
    );
    let err = load(&text).unwrap_err();
    let shown = err.to_string();
    assert!(
        !shown.chars().any(|c| c.is_control() && c != '\n'),
        "{shown:?}"
    );
    assert!(shown.contains("\\u{1b}[2J"), "{shown}");
    // Raw control characters are a TOML syntax error; its message is made safe as well.
    let raw = MINIMAL.replace("[server]", "region = \"\u{1b}[2J\"\n[server]");
    let shown = load(&raw).unwrap_err().to_string();
    assert!(
        !shown.chars().any(|c| c.is_control() && c != '\n'),
        "{shown:?}"
    );

    let long = "x".repeat(100_000);
    let text = MINIMAL.replace("[server]", &format!("region = \"{long}\"\n[server]"));
    let shown = load(&text).unwrap_err().to_string();
    assert!(shown.len() < 2_000, "{} bytes", shown.len());
    assert!(shown.contains('…'));
}

#[test]
fn a_huge_unknown_key_is_reported_briefly() {
    let key = "k".repeat(2 << 20);
    let text = MINIMAL.replace("[server]", &format!("{key} = 1\n[server]"));
    // Its cost is bounded by `did_you_mean` skipping words longer than any key (held by
    // `config::validators::tests::the_edit_distance_is_never_computed_for_a_word_longer_than_any_key`),
    // not by a clock here.
    let err = load(&text).unwrap_err();
    let shown = err.to_string();
    assert!(shown.len() < 2_000, "{} bytes", shown.len());
    assert!(shown.contains("unknown key"), "{shown}");
}

#[test]
fn many_problems_are_capped_with_a_count_of_the_rest() {
    let bogus: String = (0..50).map(|i| format!("bogus{i} = 1\n")).collect();
    let text = MINIMAL.replace("[server]", &format!("{bogus}[server]"));
    let err = load(&text).unwrap_err();
    assert_eq!(err.errors.len(), 50);
    let (shown, more) = err.reported();
    assert_eq!((shown.len(), more), (MAX_REPORTED_ERRORS, 30));
    let text = err.to_string();
    assert!(
        text.contains("has 50 problems") && text.contains("...and 30 more"),
        "{text}"
    );
    assert_eq!(text.matches("unknown key").count(), MAX_REPORTED_ERRORS);
}

#[test]
fn a_file_that_is_too_big_binary_or_not_utf8_is_refused_plainly() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("answers.toml");
    for (bytes, says) in [
        (
            vec![b'#'; (MAX_ANSWERS_BYTES + 1) as usize],
            "larger than 1024 KiB",
        ),
        (b"name = \"x\"\n\0\0\x7fELF".to_vec(), "binary file"),
        (b"name = \"caf\xe9\"\n".to_vec(), "not UTF-8"),
    ] {
        std::fs::write(&p, &bytes).unwrap();
        let err = Answers::load(&p, &Overrides::default()).unwrap_err();
        assert_eq!(err.errors.len(), 1, "{err}");
        assert!(err.errors[0].problem.contains(says), "{err}");
    }
}

#[test]
fn configs_written_by_medplum_and_by_us_pass_the_file_checks() {
    for text in [
        include_str!("../../tests/fixtures/reference/medplum.staging.config.json"),
        include_str!("../../tests/fixtures/cdk-4.0.2/features/medplum.prod.config.json"),
        include_str!("../../tests/fixtures/cdk-4.0.2/byo/medplum.dev.config.json"),
        include_str!("../../tests/fixtures/cdk-4.0.2/eu/medplum.staging.config.json"),
    ] {
        let map: Map<String, Value> = serde_json::from_str(text).unwrap();
        let errors = validate::config_values(&map, "medplum.x.config.json");
        assert!(errors.is_empty(), "{errors:#?}");
    }
}

#[test]
fn a_hand_edited_value_in_the_config_file_is_checked_like_an_answer() {
    let a = load(MINIMAL).unwrap();
    let mut file = Map::new();
    file.insert("region".into(), Value::String("mars-1".into()));
    file.insert("serverCpu".into(), Value::from(4294967552_i64));
    file.insert("maxAzs".into(), Value::String("2".into()));
    file.insert("vpcId".into(), Value::String(String::new()));
    file.insert("myOwnKey".into(), Value::String("kept".into()));
    let errors = a.check_config_file(&file, "medplum.staging.config.json");
    let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["maxAzs", "region", "serverCpu"], "{errors:#?}");
    assert!(
        errors[1]
            .problem
            .contains("'mars-1' is not an AWS region (in medplum.staging.config.json)"),
        "{}",
        errors[1]
    );
    assert!(
        errors[1]
            .fix
            .contains("fix region in medplum.staging.config.json"),
        "{}",
        errors[1]
    );
    // An answer given explicitly wins over the file, so the file's value is not the one used.
    let given = load(&MINIMAL.replace("[server]", "region = \"eu-west-1\"\n[server]")).unwrap();
    let mut file = Map::new();
    file.insert("region".into(), Value::String("mars-1".into()));
    assert!(given.check_config_file(&file, "f").is_empty());
}

#[test]
fn the_web_apps_keys_reach_the_config_and_the_server_agrees() {
    let top = MINIMAL.replace(
        "[server]",
        "clientId = \"01234567-89ab-cdef-0123-456789abcdef\"\ngoogleClientId = \"42-abc.apps.googleusercontent.com\"\nregisterEnabled = false\n[server]",
    );
    let a = load(&top).unwrap();
    assert_eq!(
        a.str("clientId"),
        Some("01234567-89ab-cdef-0123-456789abcdef")
    );
    assert_eq!(a.cdk["registerEnabled"], Value::Bool(false));
    // The server gets what the app shows: Google sign-in verifies the same client id.
    assert_eq!(
        a.server_value("googleClientId"),
        Some("42-abc.apps.googleusercontent.com")
    );
    assert_eq!(a.server_value("registerEnabled"), Some("false"));
    assert_eq!(
        a.server_value("clientId"),
        None,
        "clientId is the app's alone"
    );

    // Given under [server] only, the app gets the same value, as an explicit answer.
    let below = format!("{MINIMAL}recaptchaSiteKey = \"6Ld-site_key\"\nregisterEnabled = true\n");
    let a = load(&below).unwrap();
    assert_eq!(a.str("recaptchaSiteKey"), Some("6Ld-site_key"));
    assert_eq!(a.cdk["registerEnabled"], Value::Bool(true));
    assert!(
        a.given.iter().any(|g| g == "recaptchaSiteKey"),
        "{:?}",
        a.given
    );
    // Given nowhere, neither side is set: the app's default (register hidden) is Medplum's.
    let a = load(MINIMAL).unwrap();
    assert!(a.cdk.get("registerEnabled").is_none() && a.server_value("registerEnabled").is_none());
}

#[test]
fn the_web_apps_keys_are_checked_before_they_reach_javascript() {
    let both = format!(
        "{}googleClientId = \"two.apps.googleusercontent.com\"\n",
        MINIMAL.replace(
            "[server]",
            "googleClientId = \"one.apps.googleusercontent.com\"\n[server]"
        )
    );
    let err = load(&both).unwrap_err();
    assert_eq!(err.errors[0].key, "googleClientId", "{err}");
    assert!(err.errors[0].fix.contains("must agree"), "{err}");

    // A quote would end the string literal the value is put into.
    let bad = MINIMAL.replace(
        "[server]",
        "clientId = \"x\\\";alert(1);//\"\nrecaptchaSiteKey = \"k\\\\\"\n[server]\ngoogleClientId = \"a b\"",
    );
    let err = load(&bad).unwrap_err();
    let keys: Vec<&str> = err.errors.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(
        keys,
        ["clientId", "recaptchaSiteKey", "server.googleClientId"],
        "{err}"
    );
    assert!(err.errors[0].problem.contains("is not a FHIR id"), "{err}");

    // A hand-edited config file is held to the same rules.
    let a = load(MINIMAL).unwrap();
    let mut file = Map::new();
    file.insert("clientId".into(), Value::String("no spaces allowed".into()));
    file.insert("registerEnabled".into(), Value::String("true".into()));
    let errors = a.check_config_file(&file, "f");
    let mut keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["clientId", "registerEnabled"], "{errors:#?}");
}

#[test]
fn the_recorded_text_keeps_no_secret_value_at_any_depth() {
    let text = "name = \"staging\"\ndomainName = \"example.com\"\n\
        [server]\nsupportEmail = \"support@example.com\"\nrecaptchaSecretKey = \"s3cret-a\"\n\
        [server.backgroundJobsRedis]\nhost = \"redis.internal\"\npassword = \"s3cret-b\"\n\
        [server.database.ssl]\nrequire = true\n";
    let recorded = without_secrets(text).unwrap();
    assert!(!recorded.contains("s3cret"), "{recorded}");
    assert!(!recorded.contains("backgroundJobsRedis"), "{recorded}");
    assert!(recorded.contains("support@example.com"), "{recorded}");
    assert!(recorded.contains("require = true"), "{recorded}");
    let a = load(text).unwrap();
    assert_eq!(a.recorded, recorded);
}

#[test]
fn cloudtrail_alarms_are_checked_key_by_key_with_the_nested_line() {
    let with = |table: &str| format!("{MINIMAL}[cloudTrailAlarms]\n{table}");
    let a = load(&with(
        "logGroupName = \"medplum-trail\"\nlogGroupCreate = true\n",
    ))
    .unwrap();
    assert_eq!(a.cdk["cloudTrailAlarms"]["logGroupName"], "medplum-trail");
    let err = load(&with("logGroupCreate = true\nsnsTopicName = \"a.fifo\"\n")).unwrap_err();
    assert_eq!(err.errors[0].key, "cloudTrailAlarms.logGroupName", "{err}");
    let err = load(&with("logGroupName = \"g\"\nsnsTopicName = \"a.fifo\"\n")).unwrap_err();
    assert_eq!(err.errors[0].key, "cloudTrailAlarms.snsTopicName", "{err}");
    assert_eq!(
        err.errors[0].line,
        Some(7),
        "the line of snsTopicName: {err}"
    );
}
