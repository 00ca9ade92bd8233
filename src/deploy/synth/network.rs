//! The VPC (`BackEnd/VPC`), as `ec2.Vpc` builds it with Medplum's options: 10.0.0.0/16, one public
//! and one private-with-egress subnet per availability zone, one NAT gateway per zone, and flow
//! logs of all traffic to `/medplum/flowlogs/<name>`. Or, with `vpcId`, the existing VPC as
//! `Vpc.fromLookup` imports it: no resources, its subnets by ID, checked first for what the
//! stack needs of them.

use serde_json::{Value, json};

use super::settings::{Settings, invalid};
use super::template::{Resource, Template, assume_role, att, default_policy, r#ref, statement};
use crate::config::infra::InfraConfig;
use crate::deploy::SynthError;
use crate::deploy::context::Lookups;
use crate::deploy::vpc::{SubnetType, VpcLookup};

/// What later parts of the stack attach to.
#[derive(Debug, Clone)]
pub struct Network {
    /// The VPC's ID: a `Ref` to the stack's VPC, or the existing VPC's ID.
    pub vpc: Value,
    pub public_subnets: Vec<Value>,
    pub private_subnets: Vec<Value>,
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

/// The looked-up VPC of `vpcId`, checked for what the stack needs: private subnets (with
/// egress: the servers pull their image and reach AWS APIs) in at least `maxAzs` zones, and,
/// for an internet-facing load balancer, public subnets in two zones.
pub(super) fn existing(
    c: &InfraConfig,
    vpc_id: &str,
    lookups: &Lookups,
    internet_facing: bool,
) -> Result<VpcLookup, SynthError> {
    let Some(vpc) = lookups.vpc.as_ref().filter(|v| v.vpc_id == vpc_id) else {
        return Err(SynthError::MissingVpc {
            vpc_id: vpc_id.into(),
            hint: format!(
                "run synth, diff or deploy with AWS access so medplum-init looks it up and \
                 records it in cdk.context.json, or add the CDK's entry \
                 \"{}\" there",
                crate::deploy::vpc::context_key(&c.account_number, &c.region, vpc_id)
            ),
        });
    };
    let private = vpc.zones(SubnetType::Private);
    if private.is_empty() {
        let found: Vec<String> = vpc
            .subnet_groups
            .iter()
            .map(|g| format!("{} ({:?}, {})", g.name, g.kind, g.subnets.len()))
            .collect();
        return Err(invalid(
            "vpcId",
            format!(
                "VPC {vpc_id} has no private subnets (subnet groups: {})",
                if found.is_empty() {
                    "none".into()
                } else {
                    found.join(", ")
                }
            ),
            "the database, Redis and the servers go into private subnets whose route tables \
             send 0.0.0.0/0 to a NAT or transit gateway (or subnets tagged \
             aws-cdk:subnet-type=Private); add them, or set vpcId to \"\" to let the stack \
             create its VPC",
        ));
    }
    // maxAzs is 2 or more (checked before), so this also catches a single zone.
    if private.len() < c.max_azs as usize {
        return Err(invalid(
            "maxAzs",
            format!(
                "the private subnets of VPC {vpc_id} span {} availability zone(s) ({}), fewer \
                 than maxAzs {}",
                private.len(),
                private.join(", "),
                c.max_azs
            ),
            if private.len() < 2 {
                "add private subnets in a second zone: Aurora and the load balancer need two"
                    .to_string()
            } else {
                format!(
                    "set maxAzs to {} (with vpcId it is the number of zones the stack must \
                     reach), or add private subnets in more zones",
                    private.len()
                )
            },
        ));
    }
    let public = vpc.zones(SubnetType::Public).len();
    if internet_facing && public < 2 {
        return Err(invalid(
            "vpcId",
            format!(
                "VPC {vpc_id} has public subnets in {public} zone(s); an internet-facing load \
                 balancer needs two"
            ),
            "add public subnets (routed to an internet gateway) in two zones, or set \
             apiInternetFacing to false for an internal load balancer",
        ));
    }
    Ok(vpc.clone())
}

/// The existing VPC as the stack's parts see it: IDs only, nothing to wait for.
fn imported(vpc: &VpcLookup) -> Network {
    let ids = |kind| {
        vpc.subnets(kind)
            .iter()
            .map(|s| json!(s.subnet_id))
            .collect()
    };
    Network {
        vpc: json!(vpc.vpc_id),
        public_subnets: ids(SubnetType::Public),
        private_subnets: ids(SubnetType::Private),
        public_ready: Vec::new(),
        private_ready: Vec::new(),
    }
}

pub fn build(t: &mut Template, s: &Settings) -> Network {
    if let Some(vpc) = &s.vpc {
        return imported(vpc);
    }
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
        vpc: r#ref(&vpc),
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
                net.public_subnets.push(r#ref(&subnet));
                net.public_ready.extend([route, association]);
            } else {
                net.private_subnets.push(r#ref(&subnet));
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
