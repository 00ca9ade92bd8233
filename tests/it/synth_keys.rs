//! Each config key of Medplum's CDK table changes the template the way `@medplum/cdk` does, and
//! each key medplum-init cannot honour is an error naming it (never silently dropped). The base is
//! the reference config; each case changes one key.

use medplum_init::config::infra::InfraConfig;
use medplum_init::deploy::context::CdkContext;
use medplum_init::deploy::vpc::{SubnetType, VpcLookup};
use medplum_init::deploy::{Lookups, StackTemplate, SynthError, synth};
use medplum_init::error::Diagnostic;
use serde_json::{Map, Value, json};

use crate::harness::root;

fn base() -> Map<String, Value> {
    let text = std::fs::read_to_string(
        root().join("tests/fixtures/reference/medplum.staging.config.json"),
    )
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn lookups() -> Lookups {
    CdkContext::read(&root().join("tests/fixtures/reference"))
        .unwrap()
        .lookups("123456789012", "us-east-1")
}

fn with(changes: Value) -> Map<String, Value> {
    let mut m = base();
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            m.remove(k);
        } else {
            m.insert(k.clone(), v.clone());
        }
    }
    m
}

fn try_synth(m: Map<String, Value>, l: &Lookups) -> Result<Vec<StackTemplate>, SynthError> {
    synth(&InfraConfig::from_map(m).unwrap(), l)
}

fn primary(changes: Value) -> Value {
    try_synth(with(changes), &lookups())
        .unwrap()
        .remove(0)
        .template
}

fn resources_of(t: &Value, kind: &str) -> Vec<Value> {
    t["Resources"]
        .as_object()
        .unwrap()
        .values()
        .filter(|r| r["Type"] == kind)
        .cloned()
        .collect()
}

fn one(t: &Value, kind: &str) -> Value {
    let mut all = resources_of(t, kind);
    assert_eq!(all.len(), 1, "one {kind}");
    all.remove(0)["Properties"].clone()
}

fn err(changes: Value) -> SynthError {
    try_synth(with(changes), &lookups()).unwrap_err()
}

#[test]
fn database_keys() {
    let t = primary(
        json!({"rdsInstances": 3, "rdsInstanceType": "r6g.large", "rdsReaderInstanceType": "t4g.large"}),
    );
    let classes: Vec<Value> = resources_of(&t, "AWS::RDS::DBInstance")
        .iter()
        .map(|r| r["Properties"]["DBInstanceClass"].clone())
        .collect();
    assert_eq!(
        classes,
        [
            json!("db.r6g.large"),
            json!("db.t4g.large"),
            json!("db.t4g.large")
        ]
    );

    let t = primary(
        json!({"rdsInstanceVersion": "15.4", "rdsClusterParameters": {"max_connections": "300"}}),
    );
    assert_eq!(one(&t, "AWS::RDS::DBCluster")["EngineVersion"], "15.4");
    let params = one(&t, "AWS::RDS::DBClusterParameterGroup");
    assert_eq!(params["Family"], "aurora-postgresql15");
    assert_eq!(params["Parameters"]["max_connections"], "300");
    assert_eq!(params["Parameters"]["statement_timeout"], "60000");

    // The suffix needs the persistent groups, as in Medplum's CDK (which throws).
    let e = err(json!({"rdsIdsMajorVersionSuffix": true}));
    assert!(e.to_string().contains("rdsIdsMajorVersionSuffix"), "{e}");
    assert!(
        e.hint().unwrap().contains("rdsPersistentParameterGroups"),
        "{e:?}"
    );
    // Persistent groups alone: the cluster moves to the retained group, the instances keep the
    // default one, the cluster keeps its logical ID.
    let t = primary(json!({"rdsInstanceVersion": "16.9", "rdsPersistentParameterGroups": true}));
    let ids: Vec<&String> = t["Resources"].as_object().unwrap().keys().collect();
    assert!(
        ids.iter()
            .any(|k| k.starts_with("BackEndMedplumPG16ClusterParameterGroup"))
    );
    assert!(
        !ids.iter()
            .any(|k| k.starts_with("BackEndMedplumDatabaseClusterParams"))
    );
    assert!(
        ids.iter()
            .any(|k| k.starts_with("BackEndDatabaseCluster8B2F7305")),
        "{ids:?}"
    );
    for r in resources_of(&t, "AWS::RDS::DBInstance") {
        assert!(r["Properties"].get("DBParameterGroupName").is_none());
    }
    // A proxy: its endpoint is the server's databaseProxyEndpoint parameter.
    let t = primary(json!({"rdsProxyEnabled": true}));
    let endpoint = resources_of(&t, "AWS::SSM::Parameter")
        .into_iter()
        .find(|p| {
            p["Properties"]["Name"]
                .as_str()
                .unwrap()
                .ends_with("/databaseProxyEndpoint")
        })
        .expect("the proxy endpoint parameter");
    assert_eq!(endpoint["Properties"]["Value"]["Fn::GetAtt"][1], "Endpoint");
    assert_eq!(one(&t, "AWS::RDS::DBProxy")["RequireTLS"], true);

    let t = primary(
        json!({"rdsSecretsArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"}),
    );
    assert!(resources_of(&t, "AWS::RDS::DBCluster").is_empty());
    let secrets = resources_of(&t, "AWS::SSM::Parameter")
        .into_iter()
        .find(|p| p["Properties"]["Name"] == "/medplum/staging/DatabaseSecrets")
        .unwrap();
    assert_eq!(
        secrets["Properties"]["Value"],
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"
    );

    let t = primary(json!({"rdsAutoMinorVersionUpgrade": false}));
    assert_eq!(
        one(&t, "AWS::RDS::DBInstance")["AutoMinorVersionUpgrade"],
        false
    );
}

#[test]
fn server_keys() {
    let t = primary(json!({
        "serverCpu": 1024, "serverMemory": 4096, "serverImage": "medplum/medplum-server:4.1.0",
        "desiredServerCount": 4, "apiPort": 5000, "environment": {"A": "1"}, "containerInsights": true
    }));
    let task = one(&t, "AWS::ECS::TaskDefinition");
    assert_eq!(
        (task["Cpu"].as_str(), task["Memory"].as_str()),
        (Some("1024"), Some("4096"))
    );
    let c = &task["ContainerDefinitions"][0];
    assert_eq!(c["Image"], "medplum/medplum-server:4.1.0");
    assert_eq!(c["PortMappings"][0]["ContainerPort"], 5000);
    assert_eq!(c["Environment"], json!([{"Name": "A", "Value": "1"}]));
    assert_eq!(one(&t, "AWS::ECS::Service")["DesiredCount"], 4);
    assert_eq!(
        one(&t, "AWS::ElasticLoadBalancingV2::TargetGroup")["Port"],
        5000
    );
    assert_eq!(
        one(&t, "AWS::ECS::Cluster")["ClusterSettings"],
        json!([{"Name": "containerInsights", "Value": "enabled"}])
    );
    let t = primary(json!({"containerInsightsV2": "enhanced"}));
    assert_eq!(
        one(&t, "AWS::ECS::Cluster")["ClusterSettings"][0]["Value"],
        "enhanced"
    );
    // Fargate's CPU/memory pairs are checked before any deploy.
    assert_eq!(
        err(json!({"serverCpu": 256, "serverMemory": 4096})).key(),
        Some("serverMemory")
    );
    assert_eq!(err(json!({"serverCpu": 300})).key(), Some("serverCpu"));
}

#[test]
fn network_and_load_balancer_keys() {
    let t = primary(json!({"maxAzs": 3}));
    assert_eq!(resources_of(&t, "AWS::EC2::Subnet").len(), 6);
    assert_eq!(resources_of(&t, "AWS::EC2::NatGateway").len(), 3);
    assert_eq!(err(json!({"maxAzs": 1})).key(), Some("maxAzs"));

    let t = primary(json!({"apiInternetFacing": false}));
    let lb = one(&t, "AWS::ElasticLoadBalancingV2::LoadBalancer");
    assert_eq!(lb["Scheme"], "internal");
    assert!(
        lb["Subnets"][0]["Ref"]
            .as_str()
            .unwrap()
            .contains("Private")
    );

    let logs = json!({"loadBalancerLoggingEnabled": true, "loadBalancerLoggingBucket": "logs-bucket", "loadBalancerLoggingPrefix": "elb"});
    let attrs =
        one(&primary(logs), "AWS::ElasticLoadBalancingV2::LoadBalancer")["LoadBalancerAttributes"]
            .clone();
    assert!(
        attrs
            .as_array()
            .unwrap()
            .contains(&json!({"Key": "access_logs.s3.bucket", "Value": "logs-bucket"}))
    );
    // The flag is honoured (the CDK ignores it) and never a silent no-op.
    let off =
        json!({"loadBalancerLoggingEnabled": false, "loadBalancerLoggingBucket": "logs-bucket"});
    let attrs =
        one(&primary(off), "AWS::ElasticLoadBalancingV2::LoadBalancer")["LoadBalancerAttributes"]
            .clone();
    assert_eq!(attrs.as_array().unwrap().len(), 2);
    assert_eq!(
        err(json!({"loadBalancerLoggingEnabled": true})).key(),
        Some("loadBalancerLoggingBucket")
    );

    let t = primary(json!({"loadBalancerAlgorithm": "least_outstanding_requests"}));
    assert!(one(&t, "AWS::ElasticLoadBalancingV2::TargetGroup")["TargetGroupAttributes"]
        .as_array()
        .unwrap()
        .contains(&json!({"Key": "load_balancing.algorithm.type", "Value": "least_outstanding_requests"})));
}

#[test]
fn waf_and_frontend_keys() {
    let regional = "arn:aws:wafv2:us-east-1:123456789012:regional/ipset/a/11111111-2222-3333-4444-555555555555";
    let global =
        "arn:aws:wafv2:us-east-1:123456789012:global/ipset/b/11111111-2222-3333-4444-555555555555";
    let t = primary(
        json!({"apiWafIpSetArn": regional, "appWafIpSetArn": global, "storageWafIpSetArn": global, "appApiProxy": true}),
    );
    for acl in resources_of(&t, "AWS::WAFv2::WebACL") {
        assert_eq!(acl["Properties"]["DefaultAction"], json!({"Block": {}}));
        assert_eq!(acl["Properties"]["Rules"][4]["Name"], "IPAllowListRule");
    }
    let app = resources_of(&t, "AWS::CloudFront::Distribution")
        .into_iter()
        .find(|d| d["Properties"]["DistributionConfig"]["Aliases"][0] == "app.staging.example.com")
        .unwrap();
    assert_eq!(
        app["Properties"]["DistributionConfig"]["CacheBehaviors"][0]["PathPattern"],
        "/api/*"
    );
    assert_eq!(
        err(json!({"apiWafIpSetArn": global})).key(),
        Some("apiWafIpSetArn")
    );
}

#[test]
fn signing_key_and_dns_keys() {
    let t = primary(json!({"signingKeyId": "K2JCJMDEHXQW5F"}));
    assert!(resources_of(&t, "AWS::CloudFront::PublicKey").is_empty());
    assert_eq!(
        one(&t, "AWS::CloudFront::KeyGroup")["KeyGroupConfig"]["Items"],
        json!(["K2JCJMDEHXQW5F"])
    );
    // A rotation: the group trusts the new key and the retiring one, the new one first, in
    // place (same logical ID and name), so URLs signed with either verify.
    let rotating = primary(json!({
        "signingKeyId": "K2JCJMDEHXQW5F",
        "medplumInitRetiringSigningKeyId": "K1OLDKEYABCDEF"
    }));
    let group = one(&rotating, "AWS::CloudFront::KeyGroup");
    assert_eq!(
        group["KeyGroupConfig"]["Items"],
        json!(["K2JCJMDEHXQW5F", "K1OLDKEYABCDEF"])
    );
    assert_eq!(
        group["KeyGroupConfig"]["Name"],
        one(&t, "AWS::CloudFront::KeyGroup")["KeyGroupConfig"]["Name"]
    );
    assert_eq!(
        err(json!({
            "signingKeyId": "K2JCJMDEHXQW5F",
            "medplumInitRetiringSigningKeyId": "K2JCJMDEHXQW5F"
        }))
        .key(),
        Some("medplumInitRetiringSigningKeyId")
    );
    assert_eq!(
        err(json!({"medplumInitRetiringSigningKeyId": "not a key"})).key(),
        Some("medplumInitRetiringSigningKeyId")
    );
    let t = primary(json!({}));
    assert_eq!(resources_of(&t, "AWS::CloudFront::PublicKey").len(), 1);
    assert_eq!(
        err(json!({"storagePublicKey": ""})).key(),
        Some("signingKeyId")
    );

    let t = primary(json!({"skipDns": true}));
    assert!(resources_of(&t, "AWS::Route53::RecordSet").is_empty());

    // hostedZoneName picks the zone; the longest zone holding domainName wins otherwise.
    let mut l = lookups();
    l.hosted_zones
        .insert("staging.example.com".into(), "ZSTAGING".into());
    let t = try_synth(with(json!({"domainName": "staging.example.com"})), &l)
        .unwrap()
        .remove(0)
        .template;
    for r in resources_of(&t, "AWS::Route53::RecordSet") {
        assert_eq!(r["Properties"]["HostedZoneId"], "ZSTAGING");
    }
    let t = try_synth(
        with(json!({"domainName": "staging.example.com", "hostedZoneName": "example.com"})),
        &l,
    )
    .unwrap()
    .remove(0)
    .template;
    assert_eq!(
        resources_of(&t, "AWS::Route53::RecordSet")[0]["Properties"]["HostedZoneId"],
        "Z123EXAMPLE"
    );
    let e = try_synth(with(json!({"hostedZoneName": "other.org"})), &l).unwrap_err();
    assert!(matches!(e, SynthError::MissingHostedZone { .. }), "{e}");
    assert_eq!(e.key(), Some("hostedZoneName"));
}

#[test]
fn cache_and_naming_keys() {
    let t = primary(json!({"cacheNodeType": "cache.r7g.large", "environment": null}));
    assert_eq!(
        one(&t, "AWS::ElastiCache::ReplicationGroup")["CacheNodeType"],
        "cache.r7g.large"
    );
    let t = primary(json!({"cacheNodeType": null}));
    assert_eq!(
        one(&t, "AWS::ElastiCache::ReplicationGroup")["CacheNodeType"],
        "cache.t4g.medium"
    );
    let t = primary(json!({"name": "qa", "stackName": "MedplumQa"}));
    assert!(t["Resources"].as_object().unwrap().values().all(|r| {
        r["Metadata"]["aws:cdk:path"]
            .as_str()
            .unwrap()
            .starts_with("MedplumQa/")
    }));
    assert_eq!(
        one(&t, "AWS::ECS::TaskDefinition")["ContainerDefinitions"][0]["Command"],
        json!(["aws:/medplum/qa/"])
    );
}

#[test]
fn a_second_region_gets_a_us_east_1_stack_wired_by_parameters() {
    let stacks = try_synth(
        with(json!({"region": "eu-west-1", "apiSslCertArn": "arn:aws:acm:eu-west-1:123456789012:certificate/1"})),
        &lookups(),
    )
    .unwrap();
    assert_eq!(stacks.len(), 2);
    let (p, g) = (&stacks[0], &stacks[1]);
    assert_eq!(
        (p.name.as_str(), p.region.as_str()),
        ("MedplumStagingStack", "eu-west-1")
    );
    assert_eq!(
        (g.name.as_str(), g.region.as_str()),
        ("MedplumStagingStack-us-east-1", "us-east-1")
    );
    for s in &stacks {
        assert_eq!(
            s.tags,
            [("medplum:environment".to_string(), "staging".to_string())]
        );
    }
    // Every input names an output of the earlier stack and a parameter of this one.
    assert_eq!(g.inputs.len(), 2);
    for i in &g.inputs {
        assert_eq!(i.from_stack, p.name);
        assert!(p.template["Outputs"].get(&i.output).is_some());
        assert!(g.template["Parameters"].get(&i.parameter).is_some());
    }
    // Buckets only in the primary; CloudFront only in us-east-1.
    assert!(resources_of(&g.template, "AWS::S3::Bucket").is_empty());
    assert!(resources_of(&p.template, "AWS::CloudFront::Distribution").is_empty());
    assert_eq!(
        resources_of(&g.template, "AWS::CloudFront::Distribution").len(),
        2
    );
}

#[test]
fn availability_zones_come_from_the_context_or_fn_getazs() {
    let no_azs = Lookups {
        availability_zones: None,
        ..lookups()
    };
    let t = try_synth(with(json!({"maxAzs": 3})), &no_azs)
        .unwrap()
        .remove(0)
        .template;
    let azs: Vec<Value> = resources_of(&t, "AWS::EC2::Subnet")
        .iter()
        .map(|s| s["Properties"]["AvailabilityZone"].clone())
        .collect();
    assert_eq!(azs[2], json!({"Fn::Select": [2, {"Fn::GetAZs": ""}]}));
    let e = try_synth(with(json!({"maxAzs": 99})), &no_azs).unwrap_err();
    assert!(
        matches!(e, SynthError::MissingAvailabilityZones { .. }),
        "{e}"
    );
    assert!(
        e.hint()
            .unwrap_or_default()
            .contains("availability-zones:account=123456789012:region=us-east-1")
    );
    // With the context, maxAzs 99 means all the zones it names.
    assert_eq!(
        resources_of(&primary(json!({"maxAzs": 99})), "AWS::EC2::Subnet").len(),
        6
    );
}

/// The looked-up VPC of the `vpc` parity fixture, with `edit` applied, beside the reference
/// lookups.
fn with_vpc(edit: impl FnOnce(&mut VpcLookup)) -> Lookups {
    let dir = root().join("tests/fixtures/cdk-4.0.2/vpc");
    let mut vpc = CdkContext::read(&dir)
        .unwrap()
        .vpc("123456789012", "us-east-1", VPC)
        .unwrap()
        .expect("the fixture's lookup");
    edit(&mut vpc);
    Lookups {
        vpc: Some(vpc),
        ..lookups()
    }
}

const VPC: &str = "vpc-0a1b2c3d4e5f60718";

/// An existing VPC: no network resources of the stack's own, its subnets by ID; and what the
/// stack cannot live with is refused before any template exists, naming the key and the fix.
#[test]
fn an_existing_vpc_is_used_as_looked_up_and_checked_first() {
    let t = try_synth(with(json!({"vpcId": VPC, "maxAzs": 3})), &with_vpc(|_| {}))
        .unwrap()
        .remove(0)
        .template;
    for kind in [
        "AWS::EC2::VPC",
        "AWS::EC2::Subnet",
        "AWS::EC2::NatGateway",
        "AWS::EC2::FlowLog",
    ] {
        assert!(resources_of(&t, kind).is_empty(), "{kind}");
    }
    let private = json!([
        "subnet-00000000000000004",
        "subnet-00000000000000005",
        "subnet-00000000000000006"
    ]);
    assert_eq!(one(&t, "AWS::RDS::DBSubnetGroup")["SubnetIds"], private);
    assert_eq!(
        one(&t, "AWS::ElastiCache::SubnetGroup")["SubnetIds"],
        private
    );
    assert_eq!(
        one(&t, "AWS::ElasticLoadBalancingV2::LoadBalancer")["Subnets"],
        json!([
            "subnet-00000000000000001",
            "subnet-00000000000000002",
            "subnet-00000000000000003"
        ])
    );

    let cases: [(Value, Lookups, &str, &str); 4] = [
        (
            json!({"vpcId": VPC}),
            with_vpc(|v| v.subnet_groups.retain(|g| g.kind != SubnetType::Private)),
            "vpcId",
            "NAT",
        ),
        (
            json!({"vpcId": VPC, "maxAzs": 3}),
            with_vpc(|v| {
                for g in &mut v.subnet_groups {
                    g.subnets.truncate(2);
                }
            }),
            "maxAzs",
            "set maxAzs to 2",
        ),
        (
            json!({"vpcId": VPC}),
            with_vpc(|v| {
                for g in &mut v.subnet_groups {
                    g.subnets.truncate(1);
                }
            }),
            "maxAzs",
            "second zone",
        ),
        (
            json!({"vpcId": VPC}),
            with_vpc(|v| v.subnet_groups.retain(|g| g.kind != SubnetType::Public)),
            "vpcId",
            "apiInternetFacing",
        ),
    ];
    for (change, lookups, key, hint) in cases {
        let e = try_synth(with(change.clone()), &lookups).unwrap_err();
        assert_eq!(e.key(), Some(key), "{change}: {e}");
        assert!(
            e.hint().unwrap_or_default().contains(hint),
            "{change}: {e} / {:?}",
            e.hint()
        );
    }
    // An internal load balancer needs no public subnets.
    try_synth(
        with(json!({"vpcId": VPC, "apiInternetFacing": false})),
        &with_vpc(|v| v.subnet_groups.retain(|g| g.kind != SubnetType::Public)),
    )
    .unwrap();
}

/// `cloudTrailAlarms` as the CDK builds it both ways: a created log group, trail and topic, or
/// an existing group and topic (then only the filters and alarms are the stack's). The
/// properties themselves are held by the `cloudtrail` parity fixture.
#[test]
fn cloudtrail_alarms_create_or_reuse_the_group_and_topic() {
    let t = primary(json!({"cloudTrailAlarms": {
        "logGroupName": "medplum-trail", "logGroupCreate": true, "snsTopicName": "alarms"}}));
    let filters = resources_of(&t, "AWS::Logs::MetricFilter");
    let alarms = resources_of(&t, "AWS::CloudWatch::Alarm");
    assert_eq!((filters.len(), alarms.len()), (15, 15));
    let trail = one(&t, "AWS::CloudTrail::Trail");
    assert_eq!(trail["IsMultiRegionTrail"], true);
    assert_eq!(one(&t, "AWS::SNS::Topic")["TopicName"], "alarms");
    let group = t["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, r)| r["Properties"]["LogGroupName"] == "medplum-trail")
        .map(|(id, _)| id.clone())
        .expect("the trail's log group");
    assert!(
        filters
            .iter()
            .all(|f| f["Properties"]["LogGroupName"] == json!({"Ref": group}))
    );

    let arn = "arn:aws:sns:us-east-1:123456789012:security";
    let t = primary(json!({"cloudTrailAlarms": {"logGroupName": "org-trail", "snsTopicArn": arn}}));
    assert!(resources_of(&t, "AWS::CloudTrail::Trail").is_empty());
    assert!(resources_of(&t, "AWS::SNS::Topic").is_empty());
    assert!(
        resources_of(&t, "AWS::Logs::MetricFilter")
            .iter()
            .all(|f| f["Properties"]["LogGroupName"] == "org-trail")
    );
    let alarms = resources_of(&t, "AWS::CloudWatch::Alarm");
    assert_eq!(alarms.len(), 15);
    assert!(
        alarms
            .iter()
            .all(|a| a["Properties"]["AlarmActions"] == json!([arn]))
    );
    // Both topic keys at once are ambiguous: the CDK would silently take the ARN.
    let e = err(
        json!({"cloudTrailAlarms": {"logGroupName": "g", "snsTopicArn": arn, "snsTopicName": "t"}}),
    );
    assert_eq!(e.key(), Some("cloudTrailAlarms.snsTopicName"), "{e}");
}

#[test]
fn keys_medplum_init_cannot_honour_are_errors_naming_them() {
    let cases = [
        (
            json!({"clamscanEnabled": true}),
            "clamscanEnabled",
            "guardDutyMalwareProtectionEnabled",
        ),
        (
            json!({"vpcId": "vpc-0123456789abcdef0"}),
            "vpcId",
            "vpc-provider:account=123456789012:filter.vpc-id=vpc-0123456789abcdef0:region=us-east-1:returnAsymmetricSubnets=true",
        ),
        (
            json!({"vpcId": "vpc-xyz"}),
            "vpcId",
            "vpc-0123456789abcdef0",
        ),
        (
            json!({"cloudTrailAlarms": {"logGroupCreate": true}}),
            "cloudTrailAlarms.logGroupName",
            "CloudWatch Logs",
        ),
        (
            json!({"cloudTrailAlarms": {"logGroupName": "trail", "snsTopicArn": "arn:aws:sqs:us-east-1:123456789012:q"}}),
            "cloudTrailAlarms.snsTopicArn",
            "arn:aws:sns:",
        ),
        (
            json!({"cloudTrailAlarms": {"logGroupName": "trail", "snsTopic": "t"}}),
            "cloudTrailAlarms.snsTopic",
            "snsTopicName",
        ),
        (
            json!({"mtlsDomainName": "mtls.example.com"}),
            "mtlsDomainName",
            "mtls",
        ),
        (
            json!({"workerServices": []}),
            "workerServices",
            "workerServices",
        ),
        (json!({"fireLens": {}}), "fireLens", "fireLens"),
        (
            json!({"wafLogGroupName": "aws-waf-logs-x"}),
            "wafLogGroupName",
            "WAF",
        ),
        (
            json!({"rdsInstanceTyp": "t4g.medium"}),
            "rdsInstanceTyp",
            "spelling",
        ),
        (
            json!({"rdsInstanceType": "db.t4g.medium"}),
            "rdsInstanceType",
            "t4g.medium",
        ),
        (
            json!({"apiSslCertArn": "TODO"}),
            "apiSslCertArn",
            "apiSslCertArn",
        ),
        (
            json!({"appSslCertArn": "arn:aws:acm:eu-west-1:123456789012:certificate/x"}),
            "appSslCertArn",
            "us-east-1",
        ),
        (
            json!({"clientId": "x\";alert(1);//"}),
            "clientId",
            "ClientApplication",
        ),
        (
            json!({"googleClientId": "a'b"}),
            "googleClientId",
            "googleusercontent",
        ),
        (
            json!({"registerEnabled": "false"}),
            "registerEnabled",
            "true or false",
        ),
        (
            json!({"additionalContainers": [{"name": "x", "image": "busybox:1", "cpu": 256}]}),
            "additionalContainers[0].cpu",
            "serverCpu",
        ),
    ];
    for (change, key, hint) in cases {
        let e = err(change.clone());
        assert_eq!(e.key(), Some(key), "{change}: {e}");
        assert!(
            e.to_string().contains(key)
                && (e.hint().unwrap_or_default().contains(hint) || e.to_string().contains(hint)),
            "{change}: {e} / {:?}",
            e.hint()
        );
    }
    // Off is fine: the same keys switched off synthesize.
    primary(json!({"clamscanEnabled": false, "vpcId": "", "rdsProxyEnabled": false}));
}

#[test]
fn the_web_apps_keys_are_accepted_and_leave_the_template_alone() {
    let plain = primary(json!({}));
    let with_app = primary(json!({
        "clientId": "01234567-89ab-cdef-0123-456789abcdef",
        "googleClientId": "42-abc.apps.googleusercontent.com",
        "recaptchaSiteKey": "6Ld-site_key",
        "registerEnabled": true,
    }));
    // Only the app publisher reads them.
    assert_eq!(plain, with_app);
}

#[test]
fn guardduty_replaces_clamscan_without_assets() {
    let t = primary(json!({"guardDutyMalwareProtectionEnabled": true}));
    let plan = one(&t, "AWS::GuardDuty::MalwareProtectionPlan");
    assert_eq!(
        plan["ProtectedResource"]["S3Bucket"]["BucketName"]["Ref"],
        "StorageStorageBucketDC877B11"
    );
    assert!(
        plan["ProtectedResource"]["S3Bucket"]
            .get("ObjectPrefixes")
            .is_none()
    );
    let t = primary(
        json!({"guardDutyMalwareProtectionEnabled": true, "guardDutyMalwareProtectionOnDemandOnly": true}),
    );
    assert_eq!(
        one(&t, "AWS::GuardDuty::MalwareProtectionPlan")["ProtectedResource"]["S3Bucket"]["ObjectPrefixes"],
        json!(["guardduty-on-demand-only/"])
    );
    // No Lambda, no custom resource, no asset anywhere.
    let kinds: Vec<&str> = t["Resources"]
        .as_object()
        .unwrap()
        .values()
        .map(|r| r["Type"].as_str().unwrap())
        .collect();
    assert!(
        !kinds
            .iter()
            .any(|k| k.starts_with("AWS::Lambda") || k.starts_with("Custom::"))
    );
}
