//! Redis (`BackEnd/Redis*`): an ElastiCache replication group with TLS, an auth token from a
//! generated secret, encryption at rest, Multi-AZ with one replica, and the `RedisSecrets` secret
//! the server reads its connection from.

use serde_json::{Value, json};

use super::network::Network;
use super::settings::Settings;
use super::template::{Resource, Template, att, join, r#ref};

pub struct Cache {
    pub cluster: String,
    pub secrets: String,
}

pub fn build(t: &mut Template, s: &Settings, net: &Network) -> Cache {
    let private: Vec<_> = net.private_subnets.clone();
    let subnet_group = t.add(
        &["BackEnd", "RedisSubnetGroup"],
        Resource::new(
            "AWS::ElastiCache::SubnetGroup",
            json!({"Description": "Redis Subnet Group", "SubnetIds": private}),
        ),
    );
    let sg: Value = match &s.cache_security_group {
        Some(imported) => json!(imported),
        None => {
            let id = t.add(
                &["BackEnd", "RedisSecurityGroup", "Resource"],
                Resource::new(
                    "AWS::EC2::SecurityGroup",
                    json!({
                        "GroupDescription": "Redis Security Group",
                        // The CDK's placeholder for "no outbound traffic".
                        "SecurityGroupEgress": [{
                            "CidrIp": "255.255.255.255/32",
                            "Description": "Disallow all traffic",
                            "FromPort": 252,
                            "IpProtocol": "icmp",
                            "ToPort": 86
                        }],
                        "VpcId": net.vpc.clone()
                    }),
                ),
            );
            att(&id, "GroupId")
        }
    };
    let service_sg_name = t.unique_name(&["BackEnd", "ServiceSecurityGroup"]);
    let service_sg = t.id(&["BackEnd", "ServiceSecurityGroup", "Resource"]);
    let rule = format!("from {service_sg_name}:6379");
    t.add(
        &["BackEnd", "RedisSecurityGroup", &rule],
        Resource::new(
            "AWS::EC2::SecurityGroupIngress",
            json!({
                "Description": rule,
                "FromPort": 6379,
                "GroupId": sg,
                "IpProtocol": "tcp",
                "SourceSecurityGroupId": att(&service_sg, "GroupId"),
                "ToPort": 6379
            }),
        ),
    );
    let password = t.add(
        &["BackEnd", "RedisPassword", "Resource"],
        Resource::new(
            "AWS::SecretsManager::Secret",
            json!({
                "GenerateSecretString": {
                    "ExcludeCharacters": "@%*()_+=`~{}|[]\\:\";'?,./",
                    "GenerateStringKey": "password",
                    "SecretStringTemplate": "{}"
                }
            }),
        )
        .policy("Delete"),
    );
    let cluster = t.add(
        &["BackEnd", "RedisCluster"],
        Resource::new(
            "AWS::ElastiCache::ReplicationGroup",
            json!({
                "AtRestEncryptionEnabled": true,
                "AuthToken": join(vec![
                    json!("{{resolve:secretsmanager:"),
                    r#ref(&password),
                    json!(":SecretString:password::}}"),
                ]),
                "CacheNodeType": s.cache_node_type,
                "CacheSubnetGroupName": r#ref(&subnet_group),
                "Engine": "Redis",
                "EngineVersion": "6.x",
                "MultiAZEnabled": true,
                "NumNodeGroups": 1,
                "ReplicasPerNodeGroup": 1,
                "ReplicationGroupDescription": "RedisReplicationGroup",
                "SecurityGroupIds": [sg],
                "TransitEncryptionEnabled": true
            }),
        )
        .depends_on([password.clone()]),
    );
    let secrets = t.add(
        &["BackEnd", "RedisSecrets", "Resource"],
        Resource::new(
            "AWS::SecretsManager::Secret",
            json!({
                "GenerateSecretString": {
                    "GenerateStringKey": "unused",
                    "SecretStringTemplate": join(vec![
                        json!("{\"host\":\""),
                        att(&cluster, "PrimaryEndPoint.Address"),
                        json!("\",\"port\":\""),
                        att(&cluster, "PrimaryEndPoint.Port"),
                        json!("\",\"password\":\"{{resolve:secretsmanager:"),
                        r#ref(&password),
                        json!(":SecretString:password::}}\",\"tls\":{}}"),
                    ])
                }
            }),
        )
        .depends_on([cluster.clone(), password.clone()])
        .policy("Delete"),
    );
    Cache { cluster, secrets }
}
