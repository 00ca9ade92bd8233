//! The Aurora PostgreSQL cluster (`BackEnd/DatabaseCluster`), as `rds.DatabaseCluster` builds it
//! for Medplum: a cluster parameter group with Medplum's two settings, a generated master secret,
//! a writer and `rdsInstances - 1` readers, encrypted storage, 7-day backups, snapshot on delete.
//! With `rdsSecretsArn` there is no cluster: the server uses the user's database.
//!
//! The three upgrade-related keys follow `@medplum/cdk` 4.0.2: `rdsPersistentParameterGroups`
//! (retained groups named `MedplumPG<major>…`), `rdsIdsMajorVersionSuffix` (the cluster construct
//! becomes `DatabaseClusterPG<major>`, retained) and `rdsProxyEnabled` (`BackEnd/DatabaseProxy`).

use serde_json::json;

use super::ids::database_secret_id;
use super::network::Network;
use super::settings::{Aurora, Database, Settings};
use super::template::{
    Resource, Template, assume_role, att, default_policy, join, r#ref, statement,
};

/// Characters the CDK keeps out of generated RDS passwords; part of the secret's logical ID.
pub const PASSWORD_EXCLUDE: &str = " %+~`#$&*()|[]{}:;<>?!'/@\"\\";

/// What the rest of the stack needs from the database.
#[derive(Debug, Clone)]
pub struct Db {
    /// The value of `/medplum/<name>/DatabaseSecrets`: a `Ref` to the secret attachment (whose
    /// reference is the secret ARN), or the user's ARN.
    pub secret_arn: serde_json::Value,
    /// Resources the server must wait for (every resource of the cluster construct).
    pub resources: Vec<String>,
    /// The RDS Proxy's endpoint, with `rdsProxyEnabled`.
    pub proxy_endpoint: Option<serde_json::Value>,
}

pub fn build(t: &mut Template, s: &Settings, net: &Network) -> Db {
    match &s.database {
        Database::External { secret_arn } => Db {
            secret_arn: json!(secret_arn),
            resources: Vec::new(),
            proxy_endpoint: None,
        },
        Database::Aurora(a) => aurora(t, a, net),
    }
}

fn aurora(t: &mut Template, a: &Aurora, net: &Network) -> Db {
    let family = format!("aurora-postgresql{}", a.major);
    // `rdsIdsMajorVersionSuffix` renames the whole cluster construct, so every logical ID under it
    // changes with the major version: a major upgrade builds a new cluster beside the old one.
    let cid = if a.ids_suffix {
        format!("DatabaseClusterPG{}", a.major)
    } else {
        "DatabaseCluster".to_string()
    };
    let cid = cid.as_str();
    let groups = a
        .persistent_groups
        .then(|| persistent_groups(t, a, &family));
    let cluster_params = match &groups {
        Some(g) => g.cluster.clone(),
        // Created only when the cluster uses it (the CDK renders a parameter group on bind).
        None => t.add(
            &["BackEnd", "MedplumDatabaseClusterParams", "Resource"],
            Resource::new(
                "AWS::RDS::DBClusterParameterGroup",
                json!({
                    "Description": format!("Cluster parameter group for {family}"),
                    "Family": family,
                    "Parameters": a.parameters
                }),
            ),
        ),
    };
    // The suffixed cluster is created with RemovalPolicy.RETAIN, which the CDK passes on to its
    // subnet group and instances and turns into deletion protection.
    let (cluster_policy, instance_policy) = if a.ids_suffix {
        ("Retain", "Retain")
    } else {
        ("Snapshot", "Delete")
    };
    let private: Vec<_> = net.private_subnets.clone();
    let mut subnet_group = Resource::new(
        "AWS::RDS::DBSubnetGroup",
        json!({
            "DBSubnetGroupDescription": format!("Subnets for {cid} database"),
            "SubnetIds": private
        }),
    );
    if a.ids_suffix {
        subnet_group = subnet_group.policy("Retain");
    }
    let subnets = t.add(&["BackEnd", cid, "Subnets", "Default"], subnet_group);
    let sg = t.add(
        &["BackEnd", cid, "SecurityGroup", "Resource"],
        Resource::new(
            "AWS::EC2::SecurityGroup",
            json!({
                "GroupDescription": "RDS security group",
                "SecurityGroupEgress": [{
                    "CidrIp": "0.0.0.0/0",
                    "Description": "Allow all outbound traffic by default",
                    "IpProtocol": "-1"
                }],
                "VpcId": net.vpc.clone()
            }),
        ),
    );
    let cluster = t.id(&["BackEnd", cid, "Resource"]);
    // `connections.allowDefaultPortFrom(serviceSecurityGroup)`: the port is the cluster's
    // endpoint port, which the CDK leaves to CloudFormation.
    let service_sg_name = t.unique_name(&["BackEnd", "ServiceSecurityGroup"]);
    let service_sg = t.id(&["BackEnd", "ServiceSecurityGroup", "Resource"]);
    cluster_ingress(t, cid, &sg, &cluster, &service_sg_name, &service_sg, None);
    let secret_path = ["BackEnd", cid, "Secret", "Resource"];
    let secret_id = database_secret_id(t.stack(), &secret_path[..3], PASSWORD_EXCLUDE);
    let secret = t.add_with_id(
        secret_id,
        &secret_path,
        Resource::new(
            "AWS::SecretsManager::Secret",
            json!({
                "Description": join(vec![json!("Generated by the CDK for stack: "), r#ref("AWS::StackName")]),
                "GenerateSecretString": {
                    "ExcludeCharacters": PASSWORD_EXCLUDE,
                    "GenerateStringKey": "password",
                    "PasswordLength": 30,
                    "SecretStringTemplate": "{\"username\":\"clusteradmin\"}"
                }
            }),
        )
        .policy("Delete"),
    );
    let attachment = t.add(
        &["BackEnd", cid, "Secret", "Attachment", "Resource"],
        Resource::new(
            "AWS::SecretsManager::SecretTargetAttachment",
            json!({
                "SecretId": r#ref(&secret),
                "TargetId": r#ref(&cluster),
                "TargetType": "AWS::RDS::DBCluster"
            }),
        ),
    );
    let mut cluster_props = json!({
        "BackupRetentionPeriod": 7,
        "CopyTagsToSnapshot": true,
        "DBClusterParameterGroupName": r#ref(&cluster_params),
        "DBSubnetGroupName": r#ref(&subnets),
        "DatabaseName": "medplum",
        "EnableCloudwatchLogsExports": ["postgresql"],
        "Engine": "aurora-postgresql",
        "EngineVersion": a.version,
        "MasterUserPassword": join(vec![
            json!("{{resolve:secretsmanager:"),
            r#ref(&secret),
            json!(":SecretString:password::}}"),
        ]),
        "MasterUsername": "clusteradmin",
        "Port": 5432,
        "StorageEncrypted": true,
        "VpcSecurityGroupIds": [att(&sg, "GroupId")]
    });
    if a.ids_suffix {
        cluster_props["DeletionProtection"] = json!(true);
    }
    t.add(
        &["BackEnd", cid, "Resource"],
        Resource::new("AWS::RDS::DBCluster", cluster_props).policy(cluster_policy),
    );
    let mut instances = Vec::new();
    for i in 1..=a.instances {
        let writer = i == 1;
        let class = if writer {
            &a.writer_class
        } else {
            &a.reader_class
        };
        let mut props = json!({
            "CACertificateIdentifier": "rds-ca-rsa2048-g1",
            "DBClusterIdentifier": r#ref(&cluster),
            "DBInstanceClass": class,
            "DBSubnetGroupName": r#ref(&subnets),
            "EnablePerformanceInsights": true,
            "Engine": "aurora-postgresql",
            "PerformanceInsightsRetentionPeriod": 7,
            "PubliclyAccessible": false
        });
        if let Some(b) = a.auto_minor_version_upgrade {
            props["AutoMinorVersionUpgrade"] = json!(b);
        }
        // Medplum's CDK gives the instances their groups only with the IDs suffix.
        if let (true, Some(g)) = (a.ids_suffix, &groups) {
            let group = if writer { &g.writer } else { &g.reader };
            props["DBParameterGroupName"] = r#ref(group);
        }
        instances.push(
            t.add(
                &["BackEnd", cid, &format!("Instance{i}")],
                Resource::new("AWS::RDS::DBInstance", props)
                    .depends_on(net.private_ready.iter().cloned())
                    .policy(instance_policy),
            ),
        );
    }
    let mut resources = t.ids_under(&["BackEnd", cid]);
    let proxy_endpoint = a.proxy.then(|| {
        let proxy = Proxy {
            cid,
            sg: &sg,
            cluster: &cluster,
            attachment: &attachment,
            instances: &instances,
            service_sg: (&service_sg_name, &service_sg),
        };
        let endpoint = proxy.build(t, net);
        resources = t.ids_under(&["BackEnd", cid]);
        resources.extend(t.ids_under(&["BackEnd", "DatabaseProxy"]));
        endpoint
    });
    Db {
        secret_arn: r#ref(&attachment),
        resources,
        proxy_endpoint,
    }
}

/// The three retained parameter groups of `rdsPersistentParameterGroups`.
struct Groups {
    cluster: String,
    writer: String,
    reader: String,
}

fn persistent_groups(t: &mut Template, a: &Aurora, family: &str) -> Groups {
    let prefix = format!("MedplumPG{}", a.major);
    let cluster = t.add(
        &[
            "BackEnd",
            &format!("{prefix}ClusterParameterGroup"),
            "Resource",
        ],
        Resource::new(
            "AWS::RDS::DBClusterParameterGroup",
            json!({
                "Description": format!("Cluster parameter group for {family}"),
                "Family": family,
                "Parameters": a.parameters
            }),
        )
        .policy("Retain"),
    );
    let mut instance_group = |role: &str| {
        t.add(
            &[
                "BackEnd",
                &format!("{prefix}{role}InstanceParameterGroup"),
                "Resource",
            ],
            Resource::new(
                "AWS::RDS::DBParameterGroup",
                json!({
                    "Description": format!("Parameter group for {family}"),
                    "Family": family,
                    "Parameters": {}
                }),
            )
            .policy("Retain"),
        )
    };
    let writer = instance_group("Writer");
    let reader = instance_group("Reader");
    Groups {
        cluster,
        writer,
        reader,
    }
}

/// An ingress rule on the cluster's security group for the cluster's own port, as
/// `connections.allowDefaultPortFrom` (the service) or the proxy's `allowFrom` make it.
fn cluster_ingress(
    t: &mut Template,
    cid: &str,
    sg: &str,
    cluster: &str,
    source_name: &str,
    source: &str,
    description: Option<&str>,
) {
    let rule = format!("from {source_name}:{{IndirectPort}}");
    t.add(
        &["BackEnd", cid, "SecurityGroup", &rule],
        Resource::new(
            "AWS::EC2::SecurityGroupIngress",
            json!({
                "Description": description.unwrap_or(&rule),
                "FromPort": att(cluster, "Endpoint.Port"),
                "GroupId": att(sg, "GroupId"),
                "IpProtocol": "tcp",
                "SourceSecurityGroupId": att(source, "GroupId"),
                "ToPort": att(cluster, "Endpoint.Port")
            }),
        ),
    );
}

/// `rds.DatabaseProxy` (`BackEnd/DatabaseProxy`) in front of the cluster, as Medplum's CDK makes
/// it: the cluster's generated secret, TLS required, its own security group open to the
/// service on 5432.
struct Proxy<'a> {
    cid: &'a str,
    sg: &'a str,
    cluster: &'a str,
    attachment: &'a str,
    instances: &'a [String],
    /// The service security group: construct unique name and logical ID.
    service_sg: (&'a str, &'a str),
}

impl Proxy<'_> {
    /// Adds the proxy; returns its endpoint (`Fn::GetAtt`), for the server's parameter.
    fn build(&self, t: &mut Template, net: &Network) -> serde_json::Value {
        let role_path = ["BackEnd", "DatabaseProxy", "IAMRole"];
        let role = t.add(
            &["BackEnd", "DatabaseProxy", "IAMRole", "Resource"],
            Resource::new(
                "AWS::IAM::Role",
                json!({"AssumeRolePolicyDocument": assume_role("rds.amazonaws.com")}),
            ),
        );
        default_policy(
            t,
            &role_path,
            &role,
            vec![statement(
                &[
                    "secretsmanager:GetSecretValue",
                    "secretsmanager:DescribeSecret",
                ],
                r#ref(self.attachment),
            )],
        );
        let proxy_sg_path = ["BackEnd", "DatabaseProxy", "ProxySecurityGroup"];
        let proxy_sg_name = t.unique_name(&proxy_sg_path);
        let proxy_sg = t.add(
            &["BackEnd", "DatabaseProxy", "ProxySecurityGroup", "Resource"],
            Resource::new(
                "AWS::EC2::SecurityGroup",
                json!({
                    "GroupDescription": "SecurityGroup for Database Proxy",
                    "SecurityGroupEgress": [{
                        "CidrIp": "0.0.0.0/0",
                        "Description": "Allow all outbound traffic by default",
                        "IpProtocol": "-1"
                    }],
                    "VpcId": net.vpc.clone()
                }),
            ),
        );
        cluster_ingress(
            t,
            self.cid,
            self.sg,
            self.cluster,
            &proxy_sg_name,
            &proxy_sg,
            Some("Allow connections to the database Cluster from the Proxy"),
        );
        let (service_name, service_sg) = self.service_sg;
        let rule = format!("from {service_name}:5432");
        t.add(
            &["BackEnd", "DatabaseProxy", "ProxySecurityGroup", &rule],
            Resource::new(
                "AWS::EC2::SecurityGroupIngress",
                json!({
                    "Description": rule,
                    "FromPort": 5432,
                    "GroupId": att(&proxy_sg, "GroupId"),
                    "IpProtocol": "tcp",
                    "SourceSecurityGroupId": att(service_sg, "GroupId"),
                    "ToPort": 5432
                }),
            ),
        );
        let private: Vec<_> = net.private_subnets.clone();
        let proxy = t.add(
            &["BackEnd", "DatabaseProxy", "Resource"],
            Resource::new(
                "AWS::RDS::DBProxy",
                json!({
                    "Auth": [{
                        "AuthScheme": "SECRETS",
                        "IAMAuth": "DISABLED",
                        "SecretArn": r#ref(self.attachment)
                    }],
                    // The CDK names the proxy after its construct ID: one proxy per account
                    // and region can have it, as with Medplum's CDK.
                    "DBProxyName": "DatabaseProxy",
                    "EngineFamily": "POSTGRESQL",
                    "RequireTLS": true,
                    "RoleArn": att(&role, "Arn"),
                    "VpcSecurityGroupIds": [att(&proxy_sg, "GroupId")],
                    "VpcSubnetIds": private
                }),
            ),
        );
        // The target group waits for the cluster and its instances: registering a cluster with
        // no instance fails.
        let mut after = vec![self.cluster.to_string()];
        after.extend(self.instances.iter().cloned());
        t.add(
            &["BackEnd", "DatabaseProxy", "ProxyTargetGroup"],
            Resource::new(
                "AWS::RDS::DBProxyTargetGroup",
                json!({
                    "ConnectionPoolConfigurationInfo": {},
                    "DBClusterIdentifiers": [r#ref(self.cluster)],
                    "DBProxyName": r#ref(&proxy),
                    "TargetGroupName": "default"
                }),
            )
            .depends_on(after),
        );
        att(&proxy, "Endpoint")
    }
}
