//! Synthesis (`src/deploy/synth/`) from arbitrary *valid* configs: the reference config with
//! every value the answers validators accept varied (names, regions, domains, sizes, ports,
//! zones, switches, environment), and the lookups with or without zones. Never a panic; a
//! refusal is input (exit 2) naming a key with a hint; an accepted config gives templates that
//! are JSON, where every `Ref`, `Fn::GetAtt`, `Fn::Sub` placeholder and `DependsOn` names a
//! resource or parameter of the same template, every cross-stack input names a parameter and an
//! earlier stack, and the same config always gives the same bytes.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};

use medplum_init::config::US_EAST_1;
use medplum_init::config::infra::InfraConfig;
use medplum_init::config::validators::{FARGATE_CPUS, REGIONS, fargate_memory_for};
use medplum_init::deploy::context::Lookups;
use medplum_init::deploy::{StackTemplate, synth};
use medplum_init::error::Diagnostic;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{Map, Value, json};

use crate::config::REFERENCE;
use crate::{fuzz, replay};

/// Synthesis takes a few milliseconds a config: fewer cases than the parsers.
const CASES: u32 = 96;

const PSEUDO: &[&str] = &[
    "AWS::AccountId",
    "AWS::NoValue",
    "AWS::NotificationARNs",
    "AWS::Partition",
    "AWS::Region",
    "AWS::StackId",
    "AWS::StackName",
    "AWS::URLSuffix",
];

/// The template's references, each checked against what it declares.
fn check_template(t: &Value) -> Result<(), TestCaseError> {
    let names = |k: &str| -> BTreeSet<String> {
        t.get(k)
            .and_then(Value::as_object)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    };
    let resources = names("Resources");
    prop_assert!(!resources.is_empty(), "a template without resources");
    prop_assert!(resources.len() <= 500, "{} resources", resources.len());
    let parameters = names("Parameters");
    let refable = |x: &str| resources.contains(x) || parameters.contains(x) || PSEUDO.contains(&x);
    let mut problems = Vec::new();
    walk(t, &mut |node| {
        let Some(obj) = node.as_object() else { return };
        if let Some(Value::String(x)) = obj.get("Ref")
            && !refable(x)
        {
            problems.push(format!("Ref {x}"));
        }
        if let Some(att) = obj.get("Fn::GetAtt") {
            let target = match att {
                Value::Array(a) => a.first().and_then(Value::as_str).map(str::to_string),
                Value::String(s) => s.split('.').next().map(str::to_string),
                _ => None,
            };
            match target {
                Some(x) if resources.contains(&x) => {}
                other => problems.push(format!("Fn::GetAtt {other:?}")),
            }
        }
        if let Some(sub) = obj.get("Fn::Sub") {
            let (text, vars) = match sub {
                Value::String(s) => (s.as_str(), Map::new()),
                Value::Array(a) => (
                    a.first().and_then(Value::as_str).unwrap_or(""),
                    a.get(1)
                        .and_then(Value::as_object)
                        .cloned()
                        .unwrap_or_default(),
                ),
                _ => ("", Map::new()),
            };
            for name in placeholders(text) {
                let base = name.split('.').next().unwrap_or("");
                if !vars.contains_key(&name) && !refable(base) {
                    problems.push(format!("Fn::Sub ${{{name}}}"));
                }
            }
        }
    });
    if let Some(res) = t["Resources"].as_object() {
        for (id, r) in res {
            let deps = match &r["DependsOn"] {
                Value::String(s) => vec![s.clone()],
                Value::Array(a) => a
                    .iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect(),
                _ => vec![],
            };
            for d in deps {
                if !resources.contains(&d) {
                    problems.push(format!("{id} DependsOn {d}"));
                }
            }
            prop_assert!(r["Type"].is_string(), "{} has no Type", id);
        }
    }
    prop_assert!(problems.is_empty(), "dangling references: {:?}", problems);
    Ok(())
}

/// `${Name}` and `${Name.Attr}` placeholders; `${!Literal}` is not one.
fn placeholders(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        rest = &rest[i + 2..];
        let Some(j) = rest.find('}') else { break };
        if !rest.starts_with('!') {
            out.push(rest[..j].to_string());
        }
        rest = &rest[j + 1..];
    }
    out
}

fn walk(v: &Value, f: &mut impl FnMut(&Value)) {
    f(v);
    match v {
        Value::Array(a) => a.iter().for_each(|x| walk(x, f)),
        Value::Object(m) => m.values().for_each(|x| walk(x, f)),
        _ => {}
    }
}

fn check_stacks(stacks: &[StackTemplate]) -> Result<(), TestCaseError> {
    prop_assert!(matches!(stacks.len(), 1 | 2));
    for (i, s) in stacks.iter().enumerate() {
        let body = s.body();
        let parsed: Value = serde_json::from_str(&body).expect("the body is JSON");
        prop_assert_eq!(&parsed, &s.template, "the body is not the template");
        check_template(&s.template)?;
        for input in &s.inputs {
            prop_assert!(
                s.template["Parameters"].get(&input.parameter).is_some(),
                "input {} is not a parameter",
                input.parameter
            );
            prop_assert!(
                stacks[..i].iter().any(|e| e.name == input.from_stack
                    && e.template["Outputs"].get(&input.output).is_some()),
                "input {} names no output of an earlier stack",
                input.parameter
            );
        }
    }
    Ok(())
}

#[derive(Debug, Clone)]
struct Case {
    config: Map<String, Value>,
    lookups: Lookups,
}

fn cert(region: &str, account: &str, n: u8) -> String {
    format!("arn:aws:acm:{region}:{account}:certificate/{n:02x}111111-1111-4111-8111-111111111111")
}

fn case() -> impl Strategy<Value = Case> {
    let cpu_memory = prop::sample::select(FARGATE_CPUS.to_vec()).prop_flat_map(|cpu| {
        let mem = fargate_memory_for(cpu);
        (Just(cpu), prop::sample::select(mem))
    });
    let names = (
        "[a-z][a-z0-9]{0,12}",
        prop::sample::select(REGIONS.to_vec()),
        "[0-9]{12}",
        "[a-z][a-z0-9]{0,10}\\.(com|org|io|co\\.uk)",
        "[A-Z][A-Za-z0-9]{0,20}",
    );
    let sizes = (cpu_memory, 1u16..=u16::MAX, 2u32..=6, 1u32..=3, 0u32..=10);
    let switches = prop::collection::vec(any::<bool>(), 12);
    let zones = (
        prop::option::of(Just(())),
        prop::option::of(prop::collection::vec("[a-z]", 2..7)),
    );
    let env = prop::collection::btree_map("[A-Z_]{1,12}", "[ -~]{0,20}", 0..4);
    (names, sizes, switches, zones, env).prop_map(
        |((name, region, account, domain, stack), (cs, port, azs, rds, count), sw, zones, env)| {
            let mut c: Map<String, Value> = serde_json::from_str(REFERENCE).unwrap();
            let (cpu, memory) = cs;
            let set = |c: &mut Map<String, Value>, k: &str, v: Value| {
                c.insert(k.to_string(), v);
            };
            set(&mut c, "name", json!(name));
            set(&mut c, "stackName", json!(format!("{stack}Stack")));
            set(&mut c, "accountNumber", json!(account));
            set(&mut c, "region", json!(region));
            set(&mut c, "domainName", json!(domain));
            for part in ["api", "app", "storage"] {
                set(
                    &mut c,
                    &format!("{part}DomainName"),
                    json!(format!("{part}.{name}.{domain}")),
                );
            }
            set(
                &mut c,
                "storageBucketName",
                json!(format!("medplum-{name}-storage")),
            );
            set(
                &mut c,
                "baseUrl",
                json!(format!("https://api.{name}.{domain}/")),
            );
            set(&mut c, "apiSslCertArn", json!(cert(region, &account, 1)));
            set(&mut c, "appSslCertArn", json!(cert(US_EAST_1, &account, 2)));
            set(
                &mut c,
                "storageSslCertArn",
                json!(cert(US_EAST_1, &account, 3)),
            );
            set(&mut c, "serverCpu", json!(cpu));
            set(&mut c, "serverMemory", json!(memory));
            set(&mut c, "apiPort", json!(port));
            set(&mut c, "maxAzs", json!(azs));
            set(&mut c, "rdsInstances", json!(rds));
            set(&mut c, "desiredServerCount", json!(count));
            // rdsForceRetain and wafLogGroupCreate are refused whenever present (the corpus
            // has them); these are honoured either way.
            let flags = [
                "skipDns",
                "apiInternetFacing",
                "appApiProxy",
                "containerInsights",
                "rdsAutoMinorVersionUpgrade",
                "guardDutyMalwareProtectionEnabled",
            ];
            for (k, on) in flags.iter().zip(&sw) {
                set(&mut c, k, json!(on));
            }
            if sw[8] {
                set(&mut c, "loadBalancerLoggingEnabled", json!(true));
                set(
                    &mut c,
                    "loadBalancerLoggingBucket",
                    json!(format!("{name}-lb-logs")),
                );
            }
            if sw[9] {
                set(&mut c, "hostedZoneName", json!(domain));
            }
            if sw[10] {
                set(&mut c, "signingKeyId", json!("K2JCJMDEHXQW5F"));
            }
            if !env.is_empty() {
                set(&mut c, "environment", json!(env));
            }
            let (zone, az_letters) = zones;
            let mut hosted_zones = BTreeMap::new();
            if zone.is_some() {
                hosted_zones.insert(domain.clone(), "Z0123456789ABCDEFGHIJ".to_string());
            }
            let lookups = Lookups {
                availability_zones: az_letters
                    .map(|l| l.iter().map(|x| format!("{region}{x}")).collect()),
                hosted_zones,
                vpc: None,
            };
            Case { config: c, lookups }
        },
    )
}

/// `Ok(None)` when the config was accepted, else the refusal.
fn check_case(case: &Case) -> Result<Option<String>, TestCaseError> {
    let config = match InfraConfig::from_map(case.config.clone()) {
        Ok(c) => c,
        Err(e) => {
            prop_assert!(
                false,
                "the strategy made a config that does not parse: {}",
                e
            );
            unreachable!()
        }
    };
    match synth(&config, &case.lookups) {
        Ok(stacks) => {
            check_stacks(&stacks)?;
            let again = synth(&config, &case.lookups).expect("accepted once");
            let bodies = |s: &[StackTemplate]| s.iter().map(|t| t.body()).collect::<Vec<_>>();
            prop_assert_eq!(
                bodies(&stacks),
                bodies(&again),
                "synthesis is not deterministic"
            );
            let us_east_1 = config.region == US_EAST_1;
            prop_assert_eq!(stacks.len(), if us_east_1 { 1 } else { 2 });
            Ok(None)
        }
        Err(e) => {
            prop_assert_eq!(e.exit_code(), 2, "a config is input: {}", e);
            prop_assert!(e.hint().is_some_and(|h| !h.is_empty()), "no hint: {}", e);
            prop_assert!(!e.to_string().is_empty());
            Ok(Some(e.to_string()))
        }
    }
}

#[test]
fn synth_corpus() {
    let az = Lookups {
        availability_zones: None,
        hosted_zones: BTreeMap::from([("example.com".into(), "Z0123456789ABCDEFGHIJ".into())]),
        vpc: None,
    };
    replay("synth", |_, bytes| {
        let config: Map<String, Value> = serde_json::from_slice(bytes).expect("a JSON config");
        check_case(&Case {
            config,
            lookups: az.clone(),
        })
        .map(|_| ())
    });
}

#[test]
fn synth_arbitrary_valid_configs() {
    let accepted = Cell::new(0u32);
    let total = Cell::new(0u32);
    let refusals = RefCell::new(BTreeMap::<String, u32>::new());
    fuzz("synth", "valid-configs", CASES, case(), |c| {
        total.set(total.get() + 1);
        match check_case(&c)? {
            None => accepted.set(accepted.get() + 1),
            Some(why) => *refusals.borrow_mut().entry(why).or_default() += 1,
        }
        Ok(())
    });
    // Valid configs are mostly accepted: a strategy that only made refusals would test nothing.
    assert!(
        accepted.get() * 2 >= total.get(),
        "only {} of {} valid configs synthesised; refusals: {:#?}",
        accepted.get(),
        total.get(),
        refusals.borrow()
    );
}
