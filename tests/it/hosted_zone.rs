//! `hostedZoneName` in the config file, end to end against moto: written when Medplum's CDK would
//! guess another zone than the one the validation records went to (`co.uk` domains, delegated
//! sub-zones), left out when its last-two-labels guess is right, and agreed with by our synth.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::harness::{Moto, answers, rt, run_against, text};

fn answers_for(domain: &str) -> String {
    format!(
        "name = \"staging\"\ndomainName = \"{domain}\"\n[certificates]\nwait = true\n\
         wait_timeout_minutes = 1\n[server]\nsupportEmail = \"support@{domain}\"\n"
    )
}

/// Creates public zones in moto's Route53; returns name to id (no `/hostedzone/`).
fn create_zones(moto: &Moto, names: &[&str]) -> BTreeMap<String, String> {
    rt().block_on(async {
        let r53 = aws_sdk_route53::Client::new(&moto.sdk("us-east-1").await);
        let mut ids = BTreeMap::new();
        for name in names {
            let z = r53
                .create_hosted_zone()
                .name(*name)
                .caller_reference(*name)
                .send()
                .await
                .unwrap();
            let id = z.hosted_zone().unwrap().id();
            ids.insert(
                name.to_string(),
                id.trim_start_matches("/hostedzone/").to_string(),
            );
        }
        ids
    })
}

/// The CNAME names in each zone, read back with ListResourceRecordSets.
fn cnames(moto: &Moto, zones: &BTreeMap<String, String>) -> BTreeMap<String, Vec<String>> {
    rt().block_on(async {
        let r53 = aws_sdk_route53::Client::new(&moto.sdk("us-east-1").await);
        let mut out = BTreeMap::new();
        for (name, id) in zones {
            let sets = r53
                .list_resource_record_sets()
                .hosted_zone_id(id)
                .send()
                .await
                .unwrap();
            out.insert(
                name.clone(),
                sets.resource_record_sets()
                    .iter()
                    .filter(|r| r.r#type().as_str() == "CNAME")
                    .map(|r| r.name().to_string())
                    .collect(),
            );
        }
        out
    })
}

fn install(moto: &Moto, dir: &Path) {
    let out = run_against(moto, dir, &["--answers", "answers.toml", "--yes"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "install failed\nstdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

fn config_text(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("medplum.staging.config.json")).unwrap()
}

fn config(dir: &Path) -> Value {
    serde_json::from_str(&config_text(dir)).unwrap()
}

/// Installs `domain` into a moto holding `zones`; checks that the three validation CNAMEs went
/// to `expected` (and nothing to the other zones) and returns the zone ids.
fn install_into(
    moto: &Moto,
    dir: &Path,
    domain: &str,
    zones: &[&str],
    expected: &str,
) -> BTreeMap<String, String> {
    let ids = create_zones(moto, zones);
    answers(dir, &answers_for(domain));
    install(moto, dir);
    let records = cnames(moto, &ids);
    for (zone, names) in &records {
        if zone == expected {
            assert_eq!(
                names.len(),
                3,
                "one CNAME per certificate in {zone}: {names:?}"
            );
            assert!(
                names.iter().all(|n| n.ends_with(&format!(".{domain}."))),
                "{names:?}"
            );
        } else {
            assert!(names.is_empty(), "nothing in {zone}: {names:?}");
        }
    }
    ids
}

/// `acme.example.co.uk` in the zone `example.co.uk`: the CDK alone would look up `co.uk`.
#[test]
fn a_co_uk_domain_names_its_zone_and_our_synth_uses_it() {
    let moto = Moto::start_with(&[("MOTO_ACM_VALIDATION_WAIT", "3")]);
    let dir = tempfile::tempdir().unwrap();
    let domain = "acme.example.co.uk";
    let ids = install_into(
        &moto,
        dir.path(),
        domain,
        &["example.co.uk"],
        "example.co.uk",
    );
    let cfg = config(dir.path());
    assert_eq!(cfg["hostedZoneName"], "example.co.uk");
    let written = config_text(dir.path());
    assert!(
        written.find("\"domainName\"").unwrap() < written.find("\"hostedZoneName\"").unwrap()
            && written.find("\"hostedZoneName\"").unwrap() < written.find("\"apiPort\"").unwrap(),
        "next to domainName:\n{written}"
    );

    // A run that looks no zone up for the certificates (all issued now) still finds it for the
    // config file.
    std::fs::remove_file(dir.path().join("medplum.staging.config.json")).unwrap();
    install(&moto, dir.path());
    assert_eq!(config(dir.path())["hostedZoneName"], "example.co.uk");

    // Our synth takes the same zone, and records it under the key the official CDK reads for
    // this config (`domainName=<hostedZoneName>`).
    let out = run_against(&moto, dir.path(), &["synth"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stack = cfg["stackName"].as_str().unwrap().to_string();
    let template: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join(format!("cdk.out/{stack}.template.json")))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        template["Resources"]["BackEndLoadBalancerAliasRecordFCF2BBEC"]["Properties"]["HostedZoneId"],
        ids["example.co.uk"].as_str()
    );
    let ctx: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("cdk.context.json")).unwrap(),
    )
    .unwrap();
    let key = "hosted-zone:account=123456789012:domainName=example.co.uk:region=us-east-1";
    assert_eq!(
        ctx[key]["Id"],
        format!("/hostedzone/{}", ids["example.co.uk"])
    );
}

/// `staging.example.com` delegated to its own zone while `example.com` exists too: the CDK alone
/// would write the records into the parent.
#[test]
fn a_delegated_sub_zone_is_named_even_when_the_parent_exists() {
    let moto = Moto::start_with(&[("MOTO_ACM_VALIDATION_WAIT", "3")]);
    let dir = tempfile::tempdir().unwrap();
    install_into(
        &moto,
        dir.path(),
        "staging.example.com",
        &["example.com", "staging.example.com"],
        "staging.example.com",
    );
    assert_eq!(config(dir.path())["hostedZoneName"], "staging.example.com");
}

/// A plain `example.com` domain in the zone `example.com`: the CDK's guess is right, so the
/// config has no `hostedZoneName`, as Medplum's own `aws init` writes it.
#[test]
fn a_domain_the_cdk_guesses_right_gets_no_hosted_zone_name() {
    let moto = Moto::start_with(&[("MOTO_ACM_VALIDATION_WAIT", "3")]);
    let dir = tempfile::tempdir().unwrap();
    install_into(
        &moto,
        dir.path(),
        "example.com",
        &["example.com"],
        "example.com",
    );
    let cfg = config(dir.path());
    assert_eq!(cfg["domainName"], "example.com");
    assert!(
        cfg.get("hostedZoneName").is_none(),
        "{}",
        config_text(dir.path())
    );
}
