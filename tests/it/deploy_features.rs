//! The CDK config keys that reach beyond the stack's own network and database, deployed end to
//! end against the emulator: an install and deploy into a VPC created beforehand through the EC2
//! API (`vpcId`, looked up as the CDK's `Vpc.fromLookup` does and recorded in
//! `cdk.context.json`), and a deploy with RDS Proxy and CloudTrail alarms on.

use std::path::Path;

use serde_json::{Value, json};

use crate::harness::{
    Moto, answers, create_zone, rt, run_against, stack_resources, stack_status, text,
};

const STACK: &str = "MedplumStaging";

fn install(emu: &Moto, dir: &Path, extra: &str) {
    answers(
        dir,
        &format!(
            "name = \"staging\"\nregion = \"us-east-1\"\ndomainName = \"example.com\"\n{extra}\
             [certificates]\nwait = true\nwait_timeout_minutes = 1\n\
             [server]\nsupportEmail = \"support@example.com\"\n"
        ),
    );
    let out = run_against(
        emu,
        dir,
        &["--answers", "answers.toml", "--yes", "--output", "plain"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "install failed\nstdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// An emulator with the `example.com` zone and a folder holding a finished headless install
/// with `extra` answers; `before` runs against the emulator first (to create a VPC, say).
fn installed<T>(
    extra: impl FnOnce(&T) -> String,
    before: impl FnOnce(&Moto) -> T,
) -> (Moto, tempfile::TempDir, T) {
    let emu = Moto::emulator();
    create_zone(&emu, "example.com");
    let made = before(&emu);
    let dir = tempfile::tempdir().unwrap();
    install(&emu, dir.path(), &extra(&made));
    (emu, dir, made)
}

fn deploy(emu: &Moto, dir: &Path) -> (i32, String, String) {
    let d = dir.to_str().unwrap();
    let out = run_against(
        emu,
        dir,
        &["deploy", "--yes", "--dir", d, "--output", "plain"],
    );
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

fn types(emu: &Moto) -> std::collections::BTreeSet<String> {
    stack_resources(emu, "us-east-1", STACK)
        .into_iter()
        .map(|r| r.1)
        .collect()
}

/// The VPC a landing zone would hand a team: two public subnets routed to an internet gateway,
/// two private ones routed to a NAT gateway, one isolated subnet, in two zones. Returns the
/// VPC's ID and the private and public subnet IDs.
fn landing_zone_vpc(emu: &Moto) -> (String, Vec<String>, Vec<String>) {
    rt().block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&emu.sdk("us-east-1").await);
        let vpc = ec2
            .create_vpc()
            .cidr_block("10.50.0.0/16")
            .send()
            .await
            .unwrap()
            .vpc
            .unwrap()
            .vpc_id
            .unwrap();
        let igw = ec2
            .create_internet_gateway()
            .send()
            .await
            .unwrap()
            .internet_gateway
            .unwrap()
            .internet_gateway_id
            .unwrap();
        ec2.attach_internet_gateway()
            .internet_gateway_id(&igw)
            .vpc_id(&vpc)
            .send()
            .await
            .unwrap();
        let subnet = |cidr: &'static str, zone: &'static str| {
            let ec2 = ec2.clone();
            let vpc = vpc.clone();
            async move {
                ec2.create_subnet()
                    .vpc_id(vpc)
                    .cidr_block(cidr)
                    .availability_zone(zone)
                    .send()
                    .await
                    .unwrap()
                    .subnet
                    .unwrap()
                    .subnet_id
                    .unwrap()
            }
        };
        let public = vec![
            subnet("10.50.0.0/20", "us-east-1a").await,
            subnet("10.50.16.0/20", "us-east-1b").await,
        ];
        let private = vec![
            subnet("10.50.32.0/20", "us-east-1a").await,
            subnet("10.50.48.0/20", "us-east-1b").await,
        ];
        let isolated = subnet("10.50.64.0/20", "us-east-1a").await;
        let table = || async {
            ec2.create_route_table()
                .vpc_id(&vpc)
                .send()
                .await
                .unwrap()
                .route_table
                .unwrap()
                .route_table_id
                .unwrap()
        };
        let public_table = table().await;
        ec2.create_route()
            .route_table_id(&public_table)
            .destination_cidr_block("0.0.0.0/0")
            .gateway_id(&igw)
            .send()
            .await
            .unwrap();
        let eip = ec2
            .allocate_address()
            .domain(aws_sdk_ec2::types::DomainType::Vpc)
            .send()
            .await
            .unwrap()
            .allocation_id
            .unwrap();
        let nat = ec2
            .create_nat_gateway()
            .subnet_id(&public[0])
            .allocation_id(eip)
            .send()
            .await
            .unwrap()
            .nat_gateway
            .unwrap()
            .nat_gateway_id
            .unwrap();
        let private_table = table().await;
        ec2.create_route()
            .route_table_id(&private_table)
            .destination_cidr_block("0.0.0.0/0")
            .nat_gateway_id(&nat)
            .send()
            .await
            .unwrap();
        let isolated_table = table().await;
        for (t, subnets) in [
            (&public_table, public.clone()),
            (&private_table, private.clone()),
            (&isolated_table, vec![isolated]),
        ] {
            for s in subnets {
                ec2.associate_route_table()
                    .route_table_id(t)
                    .subnet_id(s)
                    .send()
                    .await
                    .unwrap();
            }
        }
        (vpc, private, public)
    })
}

/// `vpcId`: the install takes the VPC as an answer, deploy looks it up once (recorded under the
/// CDK's key, so a second run and the CDK need no lookup), and the stack creates no network of
/// its own: the database, Redis and the servers sit in the VPC's private subnets, the load
/// balancer in its public ones.
#[test]
fn an_install_and_deploy_go_into_an_existing_vpc() {
    let emu = Moto::emulator();
    create_zone(&emu, "example.com");
    let (vpc, private, public) = landing_zone_vpc(&emu);
    let dir = tempfile::tempdir().unwrap();
    install(
        &emu,
        dir.path(),
        &format!("vpcId = \"{vpc}\"\nmaxAzs = 2\n"),
    );

    let (code, out, err) = deploy(&emu, dir.path());
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert_eq!(
        stack_status(&emu, "us-east-1", STACK).as_deref(),
        Some("CREATE_COMPLETE"),
        "stdout:\n{out}\nstderr:\n{err}"
    );
    let types = types(&emu);
    for t in ["AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::NatGateway"] {
        assert!(!types.contains(t), "the stack made its own {t}: {types:?}");
    }
    assert!(types.contains("AWS::RDS::DBCluster"), "{types:?}");

    let context: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("cdk.context.json")).unwrap(),
    )
    .unwrap();
    let key = format!(
        "vpc-provider:account=123456789012:filter.vpc-id={vpc}:region=us-east-1:\
         returnAsymmetricSubnets=true"
    );
    let groups = &context[&key]["subnetGroups"];
    let ids = |kind: &str| -> Vec<Value> {
        groups
            .as_array()
            .unwrap_or_else(|| panic!("no lookup under {key} in {context}"))
            .iter()
            .filter(|g| g["type"] == kind)
            .flat_map(|g| g["subnets"].as_array().unwrap().iter())
            .map(|s| s["subnetId"].clone())
            .collect()
    };
    assert_eq!(ids("Private"), json!(private).as_array().unwrap().clone());
    assert_eq!(ids("Public"), json!(public).as_array().unwrap().clone());
    assert_eq!(ids("Isolated").len(), 1, "{groups}");

    rt().block_on(async {
        let sdk = emu.sdk("us-east-1").await;
        let mut got = deployed_db_subnets(&sdk).await;
        got.sort();
        let mut want = private.clone();
        want.sort();
        assert_eq!(got, want, "the database's subnet group");
        let elb = aws_sdk_ec2::Client::new(&sdk);
        let sgs = elb
            .describe_security_groups()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("group-name")
                    .values("MedplumSecurityGroup")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(
            sgs.security_groups()[0].vpc_id(),
            Some(vpc.as_str()),
            "the servers' security group is in the VPC"
        );
    });

    // The lookup is recorded once: a second deploy finds nothing to change and leaves the
    // context file as it was.
    let before = std::fs::read_to_string(dir.path().join("cdk.context.json")).unwrap();
    let (code, out, err) = deploy(&emu, dir.path());
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("No changes."), "{out}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("cdk.context.json")).unwrap(),
        before
    );
}

/// The subnets of the database subnet group in the template CloudFormation deployed (reading
/// the group back with DescribeDBSubnetGroups would need the RDS SDK crate, which medplum-init
/// does not use).
async fn deployed_db_subnets(sdk: &aws_config::SdkConfig) -> Vec<String> {
    let cfn = aws_sdk_cloudformation::Client::new(sdk);
    let template = cfn
        .get_template()
        .stack_name(STACK)
        .send()
        .await
        .unwrap()
        .template_body
        .unwrap();
    let t: Value = serde_json::from_str(&template).unwrap();
    let group = t["Resources"]
        .as_object()
        .unwrap()
        .values()
        .find(|r| r["Type"] == "AWS::RDS::DBSubnetGroup")
        .expect("a DB subnet group");
    group["Properties"]["SubnetIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// A VPC that does not exist stops the deploy before any change set, naming vpcId and the fix.
#[test]
fn a_vpc_that_does_not_exist_is_reported_before_any_change() {
    let (emu, dir, ()) = installed(
        |_| "vpcId = \"vpc-0123456789abcdef0\"\n".to_string(),
        |_| (),
    );
    let (code, out, err) = deploy(&emu, dir.path());
    assert_eq!(code, 2, "invalid input: stdout:\n{out}\nstderr:\n{err}");
    assert!(
        err.contains("vpcId") && err.contains("vpc-0123456789abcdef0"),
        "stderr:\n{err}"
    );
    assert!(emu.requests("CreateChangeSet").is_empty());
    assert_eq!(stack_status(&emu, "us-east-1", STACK), None);
}

/// RDS Proxy and CloudTrail alarms on: every resource they add reaches CREATE_COMPLETE in the
/// emulator, which checks what AWS checks of them (the proxy's secret, role and subnets; the
/// trail's bucket policy, log group and role; the filters' log group; the alarms' topic), and
/// the server's proxy endpoint parameter is written.
#[test]
fn a_deploy_with_rds_proxy_and_cloudtrail_alarms_reaches_create_complete() {
    let (emu, dir, ()) = installed(
        |_| {
            "rdsProxyEnabled = true\n\
             cloudTrailAlarms = { logGroupName = \"medplum-staging-cloudtrail\", logGroupCreate = \
             true, snsTopicName = \"medplum-staging-alarms\" }\n"
                .to_string()
        },
        |_| (),
    );
    let (code, out, err) = deploy(&emu, dir.path());
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert_eq!(
        stack_status(&emu, "us-east-1", STACK).as_deref(),
        Some("CREATE_COMPLETE"),
        "stdout:\n{out}\nstderr:\n{err}"
    );
    let resources = stack_resources(&emu, "us-east-1", STACK);
    let count = |kind: &str| resources.iter().filter(|r| r.1 == kind).count();
    for (kind, n) in [
        ("AWS::RDS::DBProxy", 1),
        ("AWS::RDS::DBProxyTargetGroup", 1),
        ("AWS::CloudTrail::Trail", 1),
        ("AWS::SNS::Topic", 1),
        ("AWS::Logs::MetricFilter", 15),
        ("AWS::CloudWatch::Alarm", 15),
    ] {
        assert_eq!(count(kind), n, "{kind} in {resources:?}");
    }
    rt().block_on(async {
        let ssm = aws_sdk_ssm::Client::new(&emu.sdk("us-east-1").await);
        let endpoint = ssm
            .get_parameter()
            .name("/medplum/staging/databaseProxyEndpoint")
            .send()
            .await
            .expect("the proxy endpoint parameter")
            .parameter
            .unwrap()
            .value
            .unwrap();
        assert!(
            endpoint.contains(".proxy-") && endpoint.ends_with(".rds.amazonaws.com"),
            "{endpoint}"
        );
    });
}

/// The data-risk guard on a deployed stack: switching `rdsIdsMajorVersionSuffix` on renames the
/// cluster's construct, so the change set removes the running cluster and adds an empty one.
/// `diff` shows it as blocking and names the keys; `deploy --yes` refuses it and the cluster
/// stays where it is.
#[test]
fn a_cluster_replaced_through_the_ids_suffix_is_refused() {
    let (emu, dir, ()) = installed(|_| "rdsInstanceVersion = \"16.9\"\n".to_string(), |_| ());
    let (code, out, err) = deploy(&emu, dir.path());
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    let cluster = |emu: &Moto| {
        stack_resources(emu, "us-east-1", STACK)
            .into_iter()
            .filter(|r| r.1 == "AWS::RDS::DBCluster")
            .map(|r| (r.0, r.2))
            .collect::<Vec<_>>()
    };
    let before = cluster(&emu);
    assert_eq!(before.len(), 1, "{before:?}");

    let path = dir.path().join("medplum.staging.config.json");
    let mut config: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    config["rdsPersistentParameterGroups"] = json!(true);
    config["rdsIdsMajorVersionSuffix"] = json!(true);
    std::fs::write(&path, serde_json::to_string_pretty(&config).unwrap()).unwrap();

    let d = dir.path().to_str().unwrap();
    let out = run_against(&emu, dir.path(), &["diff", "--dir", d, "--output", "plain"]);
    let (diff_out, diff_err) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(3), "{diff_out}{diff_err}");
    assert!(
        diff_out.contains(&format!(
            "! {} removed: it holds the Medplum database",
            before[0].0
        )),
        "{diff_out}"
    );
    assert!(diff_out.contains("rdsIdsMajorVersionSuffix"), "{diff_out}");

    let (code, out, err) = deploy(&emu, dir.path());
    assert_eq!(code, 2, "stdout:\n{out}\nstderr:\n{err}");
    assert!(err.contains("--allow-data-risk"), "{err}");
    assert_eq!(cluster(&emu), before, "the running cluster is untouched");
}
