//! The lookup of an existing VPC (`vpcId`), as the CDK's `Vpc.fromLookup` makes it: the VPC,
//! its subnets sorted into groups (public, private, isolated) by the CDK's rules, their zones
//! and route tables. The result is kept in `cdk.context.json` under the CDK's own key and in its
//! own value format (`VpcContextResponse` with `returnAsymmetricSubnets`), so a context file
//! written by the CDK serves medplum-init and the reverse.
//!
//! The rules, from the CDK's VPC context provider: a subnet's type is its `aws-cdk:subnet-type`
//! tag; else Public when it maps public IPs on launch or its route table (its own, else the
//! VPC's main table) has a route to an internet gateway; else Private when that table sends
//! `0.0.0.0/0` to a NAT or transit gateway; else Isolated. Its group name is its
//! `aws-cdk:subnet-name` tag, else its type. Groups keep the order their first subnet was
//! listed in, subnets within a group are sorted by zone.

use serde::{Deserialize, Serialize};

use super::synth::ids::locale_cmp;
use crate::aws::{AwsClients, AwsError};
use crate::error::Diagnostic;

/// The context key the CDK reads for `Vpc.fromLookup({vpcId})` in this account and region.
pub fn context_key(account: &str, region: &str, vpc_id: &str) -> String {
    format!(
        "vpc-provider:account={account}:filter.vpc-id={vpc_id}:region={region}:\
         returnAsymmetricSubnets=true"
    )
}

/// `VpcContextResponse` as the CDK writes it for an asymmetric-subnets lookup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VpcLookup {
    pub vpc_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_cidr_block: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_account_id: Option<String>,
    /// Empty in an asymmetric lookup: the zones are the subnets' own.
    #[serde(default)]
    pub availability_zones: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpn_gateway_id: Option<String>,
    /// Absent only in a lookup made without `returnAsymmetricSubnets` (never under this key).
    #[serde(default)]
    pub subnet_groups: Vec<SubnetGroup>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubnetGroup {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: SubnetType,
    pub subnets: Vec<VpcSubnet>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SubnetType {
    Public,
    Private,
    Isolated,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VpcSubnet {
    pub subnet_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr: Option<String>,
    pub availability_zone: String,
    pub route_table_id: String,
}

impl VpcLookup {
    /// The subnets of every group of `kind`, in the CDK's order (`vpc.privateSubnets`, ...).
    pub fn subnets(&self, kind: SubnetType) -> Vec<&VpcSubnet> {
        self.subnet_groups
            .iter()
            .filter(|g| g.kind == kind)
            .flat_map(|g| &g.subnets)
            .collect()
    }

    /// The distinct zones of the subnets of `kind`, sorted.
    pub fn zones(&self, kind: SubnetType) -> Vec<&str> {
        let mut z: Vec<&str> = self
            .subnets(kind)
            .iter()
            .map(|s| s.availability_zone.as_str())
            .collect();
        z.sort_unstable();
        z.dedup();
        z
    }
}

/// A subnet as DescribeSubnets lists it (only what the rules read).
#[derive(Debug, Clone, Default)]
pub struct ListedSubnet {
    pub id: String,
    pub zone: String,
    pub cidr: Option<String>,
    pub map_public_ip: bool,
    pub tags: Vec<(String, String)>,
}

/// A route table as DescribeRouteTables lists it.
#[derive(Debug, Clone, Default)]
pub struct ListedRouteTable {
    pub id: String,
    pub main: bool,
    pub subnets: Vec<String>,
    pub routes: Vec<ListedRoute>,
}

#[derive(Debug, Clone, Default)]
pub struct ListedRoute {
    pub destination: Option<String>,
    pub gateway: Option<String>,
    pub nat_gateway: Option<String>,
    pub transit_gateway: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum VpcError {
    #[error("no VPC {vpc_id} in {region}")]
    NotFound { vpc_id: String, region: String },
    #[error("subnet {subnet} has aws-cdk:subnet-type '{value}'")]
    BadSubnetType { subnet: String, value: String },
    #[error("subnet {subnet} has no route table (and the VPC has no main route table)")]
    NoRouteTable { subnet: String },
    #[error(transparent)]
    Aws(#[from] AwsError),
}

impl VpcError {
    pub fn hint(&self) -> Option<String> {
        match self {
            VpcError::NotFound { .. } => Some(
                "check vpcId and region (and that the credentials are for the VPC's account), or \
                 set vpcId to \"\" to let the stack create its VPC"
                    .into(),
            ),
            VpcError::BadSubnetType { .. } => {
                Some("set the tag to Public, Private or Isolated, or remove it".into())
            }
            VpcError::NoRouteTable { .. } => {
                Some("associate a route table with the subnet, as the CDK requires".into())
            }
            VpcError::Aws(e) => e.hint(),
        }
    }
}

fn tag<'a>(s: &'a ListedSubnet, key: &str) -> Option<&'a str> {
    s.tags
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Sorts the listed subnets into groups by the CDK's rules.
pub fn classify(
    vpc_id: &str,
    cidr: Option<String>,
    owner: Option<String>,
    subnets: &[ListedSubnet],
    tables: &[ListedRouteTable],
    vpn_gateway: Option<String>,
) -> Result<VpcLookup, VpcError> {
    let main = tables.iter().find(|t| t.main);
    let table_of = |subnet: &str| {
        tables
            .iter()
            .find(|t| t.subnets.iter().any(|s| s == subnet))
            .or(main)
    };
    let default_route = |r: &ListedRoute| r.destination.as_deref() == Some("0.0.0.0/0");
    let mut groups: Vec<SubnetGroup> = Vec::new();
    for s in subnets {
        let table = table_of(&s.id);
        let routes = table.map(|t| t.routes.as_slice()).unwrap_or_default();
        let kind = match tag(s, "aws-cdk:subnet-type") {
            Some("Public") => SubnetType::Public,
            Some("Private") => SubnetType::Private,
            Some("Isolated") => SubnetType::Isolated,
            Some(other) => {
                return Err(VpcError::BadSubnetType {
                    subnet: s.id.clone(),
                    value: other.into(),
                });
            }
            None if s.map_public_ip
                || routes
                    .iter()
                    .any(|r| r.gateway.as_deref().is_some_and(|g| g.starts_with("igw-"))) =>
            {
                SubnetType::Public
            }
            None if routes.iter().any(|r| {
                default_route(r) && (r.nat_gateway.is_some() || r.transit_gateway.is_some())
            }) =>
            {
                SubnetType::Private
            }
            None => SubnetType::Isolated,
        };
        let name = tag(s, "aws-cdk:subnet-name")
            .map(str::to_string)
            .unwrap_or_else(|| format!("{kind:?}"));
        let route_table_id = table
            .map(|t| t.id.clone())
            .ok_or_else(|| VpcError::NoRouteTable {
                subnet: s.id.clone(),
            })?;
        let subnet = VpcSubnet {
            subnet_id: s.id.clone(),
            cidr: s.cidr.clone(),
            availability_zone: s.zone.clone(),
            route_table_id,
        };
        match groups.iter_mut().find(|g| g.kind == kind && g.name == name) {
            Some(g) => g.subnets.push(subnet),
            None => groups.push(SubnetGroup {
                name,
                kind,
                subnets: vec![subnet],
            }),
        }
    }
    for g in &mut groups {
        // Stable, as JavaScript's sort, with the CDK's `localeCompare` (for zone names, which
        // are lower case, it agrees with byte order; the shared helper keeps it so).
        g.subnets
            .sort_by(|a, b| locale_cmp(&a.availability_zone, &b.availability_zone));
    }
    Ok(VpcLookup {
        vpc_id: vpc_id.to_string(),
        vpc_cidr_block: cidr,
        owner_account_id: owner,
        availability_zones: Vec::new(),
        vpn_gateway_id: vpn_gateway,
        subnet_groups: groups,
    })
}

/// Looks the VPC up in `region` with the EC2 API: the calls the CDK's provider makes.
pub async fn look_up(
    clients: &AwsClients,
    region: &str,
    vpc_id: &str,
) -> Result<VpcLookup, VpcError> {
    use aws_sdk_ec2::types::Filter;
    let ec2 = clients.ec2(region);
    let by_vpc = |name: &str| Filter::builder().name(name).values(vpc_id).build();
    let vpcs = ec2
        .describe_vpcs()
        .filters(by_vpc("vpc-id"))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ec2", "DescribeVpcs", &e))?;
    let Some(vpc) = vpcs.vpcs().first() else {
        return Err(VpcError::NotFound {
            vpc_id: vpc_id.into(),
            region: region.into(),
        });
    };
    let mut subnets = Vec::new();
    let mut pages = ec2
        .describe_subnets()
        .filters(by_vpc("vpc-id"))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for s in page
            .map_err(|e| AwsError::from_sdk("ec2", "DescribeSubnets", &e))?
            .subnets()
        {
            subnets.push(ListedSubnet {
                id: s.subnet_id().unwrap_or_default().into(),
                zone: s.availability_zone().unwrap_or_default().into(),
                cidr: s.cidr_block().map(str::to_string),
                map_public_ip: s.map_public_ip_on_launch().unwrap_or(false),
                tags: s
                    .tags()
                    .iter()
                    .map(|t| {
                        (
                            t.key().unwrap_or_default().to_string(),
                            t.value().unwrap_or_default().to_string(),
                        )
                    })
                    .collect(),
            });
        }
    }
    let mut tables = Vec::new();
    let mut pages = ec2
        .describe_route_tables()
        .filters(by_vpc("vpc-id"))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for t in page
            .map_err(|e| AwsError::from_sdk("ec2", "DescribeRouteTables", &e))?
            .route_tables()
        {
            let assoc = t.associations();
            tables.push(ListedRouteTable {
                id: t.route_table_id().unwrap_or_default().into(),
                main: assoc.iter().any(|a| a.main().unwrap_or(false)),
                subnets: assoc
                    .iter()
                    .filter_map(|a| a.subnet_id().map(str::to_string))
                    .collect(),
                routes: t
                    .routes()
                    .iter()
                    .map(|r| ListedRoute {
                        destination: r.destination_cidr_block().map(str::to_string),
                        gateway: r.gateway_id().map(str::to_string),
                        nat_gateway: r.nat_gateway_id().map(str::to_string),
                        transit_gateway: r.transit_gateway_id().map(str::to_string),
                    })
                    .collect(),
            });
        }
    }
    let gateways = ec2
        .describe_vpn_gateways()
        .filters(by_vpc("attachment.vpc-id"))
        .filters(
            Filter::builder()
                .name("attachment.state")
                .values("attached")
                .build(),
        )
        .filters(Filter::builder().name("state").values("available").build())
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ec2", "DescribeVpnGateways", &e))?;
    let vpn = match gateways.vpn_gateways() {
        [one] => one.vpn_gateway_id().map(str::to_string),
        _ => None,
    };
    classify(
        vpc_id,
        vpc.cidr_block().map(str::to_string),
        vpc.owner_id().map(str::to_string),
        &subnets,
        &tables,
        vpn,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subnet(id: &str, zone: &str, tags: &[(&str, &str)]) -> ListedSubnet {
        ListedSubnet {
            id: id.into(),
            zone: zone.into(),
            cidr: Some("10.0.0.0/24".into()),
            map_public_ip: false,
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn table(id: &str, main: bool, subnets: &[&str], route: ListedRoute) -> ListedRouteTable {
        ListedRouteTable {
            id: id.into(),
            main,
            subnets: subnets.iter().map(|s| s.to_string()).collect(),
            routes: vec![route],
        }
    }

    fn default_via(f: impl FnOnce(&mut ListedRoute)) -> ListedRoute {
        let mut r = ListedRoute {
            destination: Some("0.0.0.0/0".into()),
            ..Default::default()
        };
        f(&mut r);
        r
    }

    #[test]
    fn subnets_are_typed_and_grouped_by_the_cdks_rules() {
        let subnets = [
            subnet("subnet-b2", "eu-west-1b", &[]),
            subnet("subnet-a1", "eu-west-1a", &[]),
            subnet("subnet-b1", "eu-west-1b", &[]),
            subnet("subnet-a2", "eu-west-1a", &[]),
            subnet(
                "subnet-db",
                "eu-west-1a",
                &[("aws-cdk:subnet-name", "Data")],
            ),
            subnet(
                "subnet-t",
                "eu-west-1c",
                &[("aws-cdk:subnet-type", "Private")],
            ),
        ];
        let tables = [
            table(
                "rtb-pub",
                false,
                &["subnet-a1", "subnet-b1"],
                default_via(|r| r.gateway = Some("igw-1".into())),
            ),
            table(
                "rtb-nat",
                false,
                &["subnet-a2", "subnet-b2"],
                default_via(|r| r.nat_gateway = Some("nat-1".into())),
            ),
            // The main table routes nowhere: subnets without their own are isolated.
            table("rtb-main", true, &[], ListedRoute::default()),
        ];
        let v = classify("vpc-1", None, None, &subnets, &tables, None).unwrap();
        let summary: Vec<(String, SubnetType, Vec<&str>)> = v
            .subnet_groups
            .iter()
            .map(|g| {
                (
                    g.name.clone(),
                    g.kind,
                    g.subnets.iter().map(|s| s.subnet_id.as_str()).collect(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "Private".into(),
                    SubnetType::Private,
                    vec!["subnet-a2", "subnet-b2", "subnet-t"]
                ),
                (
                    "Public".into(),
                    SubnetType::Public,
                    vec!["subnet-a1", "subnet-b1"]
                ),
                ("Data".into(), SubnetType::Isolated, vec!["subnet-db"]),
            ]
        );
        assert_eq!(v.subnet_groups[2].subnets[0].route_table_id, "rtb-main");
        assert_eq!(
            v.zones(SubnetType::Private),
            ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
        );
    }

    #[test]
    fn a_bad_type_tag_or_a_subnet_without_any_table_is_refused() {
        let bad = [subnet("subnet-1", "a", &[("aws-cdk:subnet-type", "Dmz")])];
        assert!(matches!(
            classify("vpc-1", None, None, &bad, &[], None),
            Err(VpcError::BadSubnetType { .. })
        ));
        let lone = [subnet("subnet-1", "a", &[])];
        assert!(matches!(
            classify("vpc-1", None, None, &lone, &[], None),
            Err(VpcError::NoRouteTable { .. })
        ));
    }

    /// The value format the CDK writes (from a `cdk synth` of the `vpc` parity fixture's
    /// lookup), read and written back unchanged.
    #[test]
    fn the_cdks_value_round_trips() {
        let text = r#"{"vpcId":"vpc-0a1b2c3d4e5f60718","vpcCidrBlock":"10.20.0.0/16","ownerAccountId":"123456789012","availabilityZones":[],"subnetGroups":[{"name":"Private","type":"Private","subnets":[{"subnetId":"subnet-1","cidr":"10.20.0.0/19","availabilityZone":"eu-west-1a","routeTableId":"rtb-1"}]}]}"#;
        let v: VpcLookup = serde_json::from_str(text).unwrap();
        assert_eq!(v.subnets(SubnetType::Private).len(), 1);
        assert_eq!(serde_json::to_string(&v).unwrap(), text);
        assert_eq!(
            context_key("123456789012", "eu-west-1", "vpc-1"),
            "vpc-provider:account=123456789012:filter.vpc-id=vpc-1:region=eu-west-1:\
             returnAsymmetricSubnets=true"
        );
    }
}
