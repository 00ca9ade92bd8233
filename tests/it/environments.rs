//! `medplum-init list` against the emulator: two environments, one of them in eu-west-1 with
//! its us-east-1 stack, and a stack without the environment tag that is not one.

use serde_json::{Value, json};

use crate::harness::{Moto, cfn, rt, run_against, text};

/// A stack made with CreateStack, tagged with `env` when given.
fn stack(moto: &Moto, region: &str, name: &str, env: Option<&str>, image: Option<&str>) {
    let mut resources = json!({
        "Param": {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": name}}
    });
    if let Some(image) = image {
        resources["Task"] = json!({
            "Type": "AWS::ECS::TaskDefinition",
            "Properties": {
                "Family": format!("{name}-task"),
                "ContainerDefinitions": [{"Name": "medplum", "Image": image, "Memory": 512}]
            }
        });
    }
    tagged_stack(moto, region, name, env, resources);
}

/// A stack of `resources` made with CreateStack, tagged with `env` when given, once it is
/// CREATE_COMPLETE.
pub fn tagged_stack(moto: &Moto, region: &str, name: &str, env: Option<&str>, resources: Value) {
    let body = json!({"Resources": resources}).to_string();
    let c = cfn(moto, region);
    rt().block_on(async {
        let mut req = c.create_stack().stack_name(name).template_body(body);
        if let Some(env) = env {
            req = req.tags(
                aws_sdk_cloudformation::types::Tag::builder()
                    .key("medplum:environment")
                    .value(env)
                    .build(),
            );
        }
        req.send().await.unwrap();
        // CreateStack is asynchronous in the emulator, as in CloudFormation.
        for _ in 0..200 {
            let out = c.describe_stacks().stack_name(name).send().await.unwrap();
            let status = out.stacks()[0].stack_status().unwrap().as_str().to_string();
            if status.ends_with("_COMPLETE") {
                assert_eq!(status, "CREATE_COMPLETE", "{name}");
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("{name} never finished");
    });
}

#[test]
fn list_shows_each_environment_once_with_its_us_east_1_stack() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    stack(
        &moto,
        "us-east-1",
        "MedplumStaging",
        Some("staging"),
        Some("medplum/medplum-server:5.0.10"),
    );
    stack(&moto, "eu-west-1", "MedplumProd", Some("prod"), None);
    stack(
        &moto,
        "us-east-1",
        "MedplumProd-us-east-1",
        Some("prod"),
        None,
    );
    stack(&moto, "eu-west-1", "SomethingElse", None, None);
    std::fs::write(
        dir.path().join("medplum.prod.config.json"),
        json!({"name": "prod", "region": "eu-west-1", "appDomainName": "app.example.org",
               "apiDomainName": "api.example.org"})
        .to_string(),
    )
    .unwrap();

    // The regions come from the configs in the folder (eu-west-1) and us-east-1.
    let out = run_against(&moto, dir.path(), &["list", "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let envs: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: Vec<(&str, &str)> = envs
        .iter()
        .map(|e| (e["name"].as_str().unwrap(), e["region"].as_str().unwrap()))
        .collect();
    assert_eq!(names, [("prod", "eu-west-1"), ("staging", "us-east-1")]);
    let prod = &envs[0];
    assert_eq!(prod["stack"]["name"], "MedplumProd");
    assert_eq!(prod["stack"]["status"], "CREATE_COMPLETE");
    assert_eq!(prod["companion"]["name"], "MedplumProd-us-east-1");
    assert_eq!(prod["companion"]["region"], "us-east-1");
    assert_eq!(prod["app_url"], "https://app.example.org/");
    assert!(prod["server_image"].is_null());
    let staging = &envs[1];
    assert!(staging["companion"].is_null());
    assert_eq!(staging["server_image"], "medplum/medplum-server:5.0.10");
    assert!(
        staging["stack"]["updated"]
            .as_str()
            .unwrap()
            .starts_with("20")
    );

    // Plain: one line each; without eu-west-1 among the regions, prod's primary is not seen and
    // its us-east-1 stack stands alone under its own name.
    let out = run_against(&moto, dir.path(), &["list", "--regions", "us-east-1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines: Vec<String> = text(&out.stdout).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with("prod  us-east-1  CREATE_COMPLETE"),
        "{lines:?}"
    );
    assert!(
        lines[1].starts_with("staging  us-east-1  CREATE_COMPLETE")
            && lines[1].contains("medplum/medplum-server:5.0.10"),
        "{lines:?}"
    );

    // A region that is none is refused before any call.
    let out = run_against(&moto, dir.path(), &["list", "--regions", "mars-1"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).starts_with("error: --regions: "));
}
