//! The synthesized templates pass cfn-lint with no error-level finding, checked against the rules
//! of the region each stack deploys to. Configs: the reference (us-east-1, one stack), eu-west-1
//! (two stacks), every optional feature medplum-init supports (eu-central-1, two stacks), the
//! user's own database and security groups without DNS (us-west-2), the RDS proxy with persistent
//! parameter groups and the IDs suffix (eu-west-1), and no lookups at all
//! (ap-southeast-2, availability zones from `Fn::GetAZs`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use crate::harness::{root, venv_tool};
use crate::synth_parity::synth_fixture;

fn lint_configs() -> Vec<PathBuf> {
    let f = root().join("tests/fixtures");
    vec![
        f.join("reference"),
        f.join("cdk-4.0.2/eu"),
        f.join("cdk-4.0.2/features"),
        f.join("cdk-4.0.2/byo"),
        f.join("cdk-4.0.2/rds"),
        f.join("cdk-4.0.2/cloudtrail"),
        f.join("cdk-4.0.2/vpc"),
        f.join("cdk-4.0.2/all"),
        f.join("synth/all-features"),
        f.join("synth/no-lookups"),
    ]
}

#[test]
fn synthesized_templates_pass_cfn_lint() {
    let cfn_lint = venv_tool("cfn-lint");
    let version = Command::new(&cfn_lint).arg("--version").output();
    assert!(
        version.as_ref().is_ok_and(|o| o.status.success()),
        "cfn-lint is not installed ({}); run `bash .ci/setup`",
        cfn_lint.display()
    );
    let out = tempfile::tempdir().unwrap();
    // Templates grouped by the region they deploy to: cfn-lint checks resource availability and
    // property values per region.
    let mut by_region: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for (i, dir) in lint_configs().iter().enumerate() {
        for stack in synth_fixture(dir) {
            let path = out.path().join(format!("{i}-{}.template.json", stack.name));
            std::fs::write(&path, stack.body()).unwrap();
            by_region
                .entry(stack.region.clone())
                .or_default()
                .push(path);
        }
    }
    assert!(by_region.values().map(Vec::len).sum::<usize>() >= 10);
    let runs: Vec<_> = by_region
        .into_iter()
        .map(|(region, files)| {
            let cfn_lint = cfn_lint.clone();
            std::thread::spawn(move || {
                let o = Command::new(&cfn_lint)
                    .arg("--regions")
                    .arg(&region)
                    .arg("--format")
                    .arg("parseable")
                    .arg("--")
                    .args(&files)
                    .output()
                    .expect("run cfn-lint");
                (region, o)
            })
        })
        .collect();
    let mut failures = Vec::new();
    for run in runs {
        let (region, o) = run.join().unwrap();
        let code = o.status.code().unwrap_or(-1);
        let text =
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
        // Exit status is a bitmask: 2 = errors, 4 = warnings, 8 = informational; 1 = crash.
        let errors: Vec<&str> = text
            .lines()
            .filter(|l| {
                l.split(':')
                    .nth(5)
                    .is_some_and(|rule| rule.starts_with('E'))
            })
            .collect();
        if code < 0 || code & 3 != 0 || !errors.is_empty() {
            failures.push(format!(
                "{region}: exit {code}\n{}",
                if errors.is_empty() {
                    text.clone()
                } else {
                    errors.join("\n")
                }
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "cfn-lint errors:\n{}",
        failures.join("\n")
    );
}
