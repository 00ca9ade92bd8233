//! The VPC (`BackEnd/VPC`), as `ec2.Vpc` builds it with Medplum's options: 10.0.0.0/16, one public
//! and one private-with-egress subnet per availability zone, one NAT gateway per zone, and flow
//! logs of all traffic to `/medplum/flowlogs/<name>`.

use serde_json::json;

use super::settings::Settings;
use super::template::{Resource, Template, assume_role, att, default_policy, r#ref, statement};

/// What later parts of the stack attach to.
#[derive(Debug, Clone)]
pub struct Network {
    pub vpc: String,
    pub public_subnets: Vec<String>,
    pub private_subnets: Vec<String>,
    /// Routes and associations that make the public subnets reach the internet: an
    /// internet-facing load balancer waits for them.
    pub public_ready: Vec<String>,
    /// The same for the private subnets: database instances wait for them.
    pub private_ready: Vec<String>,
}

/// The subnet size the CDK picks: the /16 split evenly between 2 subnets per zone, rounded up to
/// a power of two.
fn subnet_mask(zones: usize) -> u32 {
    let subnets = (2 * zones) as u32;
    16 + subnets.next_power_of_two().trailing_zeros()
}

fn cidr(index: usize, mask: u32) -> String {
    let size = 1u32 << (32 - mask);
    let addr = (10u32 << 24) + index as u32 * size;
    format!(
        "{}.{}.{}.{}/{mask}",
        addr >> 24,
        (addr >> 16) & 255,
        (addr >> 8) & 255,
        addr & 255
    )
}

pub fn build(t: &mut Template, s: &Settings) -> Network {
    let stack = t.stack().to_string();
    let flow_logs = t.add(
        &["BackEnd", "VpcFlowLogs", "Resource"],
        Resource::new(
            "AWS::Logs::LogGroup",
            json!({"LogGroupName": format!("/medplum/flowlogs/{}", s.name), "RetentionInDays": 731}),
        )
        .policy("Delete"),
    );
    let vpc_name = format!("{stack}/BackEnd/VPC");
    let vpc = t.add(
        &["BackEnd", "VPC", "Resource"],
        Resource::new(
            "AWS::EC2::VPC",
            json!({
                "CidrBlock": "10.0.0.0/16",
                "EnableDnsHostnames": true,
                "EnableDnsSupport": true,
                "InstanceTenancy": "default"
            }),
        )
        .tag("Name", &vpc_name),
    );
    let igw = t.id(&["BackEnd", "VPC", "IGW"]);
    let gateway_attachment = t.id(&["BackEnd", "VPC", "VPCGW"]);
    let zones = s.azs.count();
    let mask = subnet_mask(zones);

    let mut net = Network {
        vpc: vpc.clone(),
        public_subnets: Vec::new(),
        private_subnets: Vec::new(),
        public_ready: Vec::new(),
        private_ready: Vec::new(),
    };
    let mut nats: Vec<String> = Vec::new();
    for (public, offset) in [(true, 0), (false, zones)] {
        for z in 0..zones {
            let group = if public { "Public" } else { "Private" };
            let sub = format!("{group}Subnet{}", z + 1);
            let name = format!("{vpc_name}/{sub}");
            let p = |leaf: &'static str| ["BackEnd", "VPC", sub.as_str(), leaf];
            let subnet = t.add(
                &p("Subnet"),
                Resource::new(
                    "AWS::EC2::Subnet",
                    json!({
                        "AvailabilityZone": s.azs.value(z),
                        "CidrBlock": cidr(offset + z, mask),
                        "MapPublicIpOnLaunch": public,
                        "VpcId": r#ref(&vpc)
                    }),
                )
                .tag("aws-cdk:subnet-name", group)
                .tag("aws-cdk:subnet-type", group)
                .tag("Name", &name),
            );
            let table = t.add(
                &p("RouteTable"),
                Resource::new("AWS::EC2::RouteTable", json!({"VpcId": r#ref(&vpc)}))
                    .tag("Name", &name),
            );
            let association = t.add(
                &p("RouteTableAssociation"),
                Resource::new(
                    "AWS::EC2::SubnetRouteTableAssociation",
                    json!({"RouteTableId": r#ref(&table), "SubnetId": r#ref(&subnet)}),
                ),
            );
            // Public subnets route through the internet gateway (once it is attached), private
            // ones through their zone's NAT gateway.
            let (target, via, after) = if public {
                ("GatewayId", r#ref(&igw), Some(gateway_attachment.clone()))
            } else {
                ("NatGatewayId", r#ref(&nats[z]), None)
            };
            let route = t.add(
                &p("DefaultRoute"),
                Resource::new(
                    "AWS::EC2::Route",
                    json!({
                        "DestinationCidrBlock": "0.0.0.0/0",
                        target: via,
                        "RouteTableId": r#ref(&table)
                    }),
                )
                .depends_on(after),
            );
            if public {
                let eip = t.add(
                    &p("EIP"),
                    Resource::new("AWS::EC2::EIP", json!({"Domain": "vpc"})).tag("Name", &name),
                );
                let nat = t.add(
                    &p("NATGateway"),
                    Resource::new(
                        "AWS::EC2::NatGateway",
                        json!({"AllocationId": att(&eip, "AllocationId"), "SubnetId": r#ref(&subnet)}),
                    )
                    .tag("Name", &name)
                    .depends_on([route.clone(), association.clone()]),
                );
                nats.push(nat);
                net.public_subnets.push(subnet);
                net.public_ready.extend([route, association]);
            } else {
                net.private_subnets.push(subnet);
                net.private_ready.extend([route, association]);
            }
        }
    }
    t.add(
        &["BackEnd", "VPC", "IGW"],
        Resource::new("AWS::EC2::InternetGateway", json!({})).tag("Name", &vpc_name),
    );
    t.add(
        &["BackEnd", "VPC", "VPCGW"],
        Resource::new(
            "AWS::EC2::VPCGatewayAttachment",
            json!({"InternetGatewayId": r#ref(&igw), "VpcId": r#ref(&vpc)}),
        ),
    );
    let flow_name = format!("{vpc_name}/cloudwatch");
    let role = t.add(
        &["BackEnd", "VPC", "cloudwatch", "IAMRole", "Resource"],
        Resource::new(
            "AWS::IAM::Role",
            json!({"AssumeRolePolicyDocument": assume_role("vpc-flow-logs.amazonaws.com")}),
        )
        .tag("Name", &flow_name),
    );
    default_policy(
        t,
        &["BackEnd", "VPC", "cloudwatch", "IAMRole"],
        &role,
        vec![
            statement(
                &[
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "logs:DescribeLogStreams",
                ],
                att(&flow_logs, "Arn"),
            ),
            statement(&["iam:PassRole"], att(&role, "Arn")),
        ],
    );
    t.add(
        &["BackEnd", "VPC", "cloudwatch", "FlowLog"],
        Resource::new(
            "AWS::EC2::FlowLog",
            json!({
                "DeliverLogsPermissionArn": att(&role, "Arn"),
                "LogDestinationType": "cloud-watch-logs",
                "LogGroupName": r#ref(&flow_logs),
                "ResourceId": r#ref(&vpc),
                "ResourceType": "VPC",
                "TrafficType": "ALL"
            }),
        )
        .tag("Name", &flow_name),
    );
    net
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_split_the_vpc_like_the_cdk() {
        assert_eq!(subnet_mask(1), 17);
        assert_eq!(subnet_mask(2), 18);
        assert_eq!(subnet_mask(3), 19);
        assert_eq!(subnet_mask(6), 20);
        assert_eq!(cidr(3, 18), "10.0.192.0/18");
        assert_eq!(cidr(5, 19), "10.0.160.0/19");
    }
}
