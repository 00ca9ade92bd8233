//! The API's application load balancer (`BackEnd/TargetGroup`, `LoadBalancer`, `HttpsListener`,
//! `BackEndWAF`, `LoadBalancerAliasRecord`): HTTPS on 443 only, forwarding to the tasks on
//! `apiPort` with a `/healthcheck` check, a regional web ACL, optional access logs, and the
//! `apiDomainName` alias record.

use serde_json::{Value, json};

use super::dns;
use super::network::Network;
use super::settings::Settings;
use super::template::{Resource, Template, att, join, r#ref};
use super::waf;

pub const TARGET_GROUP: &[&str] = &["BackEnd", "TargetGroup", "Resource"];
pub const LISTENER: &[&str] = &["BackEnd", "LoadBalancer", "HttpsListener", "Resource"];

pub fn build(t: &mut Template, s: &Settings, net: &Network) {
    let mut tg_attributes = vec![json!({"Key": "stickiness.enabled", "Value": "false"})];
    if let Some(a) = &s.lb_algorithm {
        tg_attributes.push(json!({"Key": "load_balancing.algorithm.type", "Value": a}));
    }
    let target_group = t.add(
        TARGET_GROUP,
        Resource::new(
            "AWS::ElasticLoadBalancingV2::TargetGroup",
            json!({
                "HealthCheckIntervalSeconds": 30,
                "HealthCheckPath": "/healthcheck",
                "HealthCheckTimeoutSeconds": 3,
                "HealthyThresholdCount": 2,
                "Port": s.api_port,
                "Protocol": "HTTP",
                "TargetGroupAttributes": tg_attributes,
                "TargetType": "ip",
                "UnhealthyThresholdCount": 5,
                "VpcId": net.vpc.clone()
            }),
        ),
    );
    let lb_sg_id = t.id(&["BackEnd", "LoadBalancer", "SecurityGroup", "Resource"]);
    let lb_sg: Value = match &s.lb_security_group {
        Some(imported) => {
            // An imported group gets the HTTPS rule as a separate resource.
            t.add(
                &["BackEnd", "LoadBalancerSecurityGroup", "from 0.0.0.0_0:443"],
                Resource::new(
                    "AWS::EC2::SecurityGroupIngress",
                    json!({
                        "CidrIp": "0.0.0.0/0",
                        "Description": "Allow from anyone on port 443",
                        "FromPort": 443,
                        "GroupId": imported,
                        "IpProtocol": "tcp",
                        "ToPort": 443
                    }),
                ),
            );
            json!(imported)
        }
        None => att(&lb_sg_id, "GroupId"),
    };
    let mut attributes = vec![
        json!({"Key": "deletion_protection.enabled", "Value": "false"}),
        json!({"Key": "routing.http2.enabled", "Value": "true"}),
    ];
    if let Some(log) = &s.lb_logging {
        attributes.push(json!({"Key": "access_logs.s3.enabled", "Value": "true"}));
        attributes.push(json!({"Key": "access_logs.s3.bucket", "Value": log.bucket}));
        if let Some(p) = &log.prefix {
            attributes.push(json!({"Key": "access_logs.s3.prefix", "Value": p}));
        }
    }
    let subnets: Vec<Value> = if s.internet_facing {
        net.public_subnets.clone()
    } else {
        net.private_subnets.clone()
    };
    let mut lb_resource = Resource::new(
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        json!({
            "LoadBalancerAttributes": attributes,
            "Scheme": if s.internet_facing { "internet-facing" } else { "internal" },
            "SecurityGroups": [lb_sg],
            "Subnets": subnets,
            "Type": "application"
        }),
    );
    if s.internet_facing {
        // Without a route to the internet gateway, the load balancer is unreachable.
        lb_resource = lb_resource.depends_on(net.public_ready.iter().cloned());
    }
    let lb = t.add(&["BackEnd", "LoadBalancer", "Resource"], lb_resource);
    let service_sg_name = t.unique_name(&["BackEnd", "ServiceSecurityGroup"]);
    let service_sg = t.id(&["BackEnd", "ServiceSecurityGroup", "Resource"]);
    if s.lb_security_group.is_none() {
        let lb_name = t.unique_name(&["BackEnd", "LoadBalancer"]);
        t.add(
            &["BackEnd", "LoadBalancer", "SecurityGroup", "Resource"],
            Resource::new(
                "AWS::EC2::SecurityGroup",
                json!({
                    "GroupDescription": format!("Automatically created Security Group for ELB {lb_name}"),
                    "SecurityGroupIngress": [{
                        "CidrIp": "0.0.0.0/0",
                        "Description": "Allow from anyone on port 443",
                        "FromPort": 443,
                        "IpProtocol": "tcp",
                        "ToPort": 443
                    }],
                    "VpcId": net.vpc.clone()
                }),
            ),
        );
        let rule = format!("to {service_sg_name}:{}", s.api_port);
        t.add(
            &["BackEnd", "LoadBalancer", "SecurityGroup", &rule],
            Resource::new(
                "AWS::EC2::SecurityGroupEgress",
                json!({
                    "Description": "Load balancer to target",
                    "DestinationSecurityGroupId": att(&service_sg, "GroupId"),
                    "FromPort": s.api_port,
                    "GroupId": att(&lb_sg_id, "GroupId"),
                    "IpProtocol": "tcp",
                    "ToPort": s.api_port
                }),
            ),
        );
    }
    t.add(
        LISTENER,
        Resource::new(
            "AWS::ElasticLoadBalancingV2::Listener",
            json!({
                "Certificates": [{"CertificateArn": s.api_cert}],
                "DefaultActions": [{"TargetGroupArn": r#ref(&target_group), "Type": "forward"}],
                "LoadBalancerArn": r#ref(&lb),
                "Port": 443,
                "Protocol": "HTTPS",
                "SslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06"
            }),
        ),
    );
    let acl = t.add(
        &["BackEnd", "BackEndWAF"],
        Resource::new(
            "AWS::WAFv2::WebACL",
            waf::web_acl(
                &format!("{}-BackEndWAF", s.stack_name),
                "REGIONAL",
                s.api_ip_set.as_deref(),
            ),
        ),
    );
    t.add(
        &["BackEnd", "LoadBalancerAssociation"],
        Resource::new(
            "AWS::WAFv2::WebACLAssociation",
            json!({"ResourceArn": r#ref(&lb), "WebACLArn": att(&acl, "Arn")}),
        ),
    );
    if let Some(zone) = &s.zone {
        dns::alias(
            t,
            &["BackEnd", "LoadBalancerAliasRecord", "Resource"],
            zone,
            &s.api_domain,
            join(vec![json!("dualstack."), att(&lb, "DNSName")]),
            att(&lb, "CanonicalHostedZoneID"),
        );
    }
}
