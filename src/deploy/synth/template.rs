//! A CloudFormation template under construction, in the shape the CDK writes: resources keyed by
//! logical IDs derived from construct paths, `aws:cdk:path` metadata, the stack's
//! `medplum:environment` tag on every resource type the CDK tags, `DependsOn` sorted the CDK's
//! way, and helpers for the few intrinsic functions the stack uses.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::ids::{locale_cmp, unique_id};

/// The tag every taggable resource (and each stack) carries; Medplum's CLI finds stacks by it.
pub const ENV_TAG: &str = "medplum:environment";

/// Resource types the CDK tags (`Tags` as a list), as observed in `@medplum/cdk` output.
const TAGGED: &[&str] = &[
    "AWS::CloudFront::Distribution",
    "AWS::CloudTrail::Trail",
    "AWS::CloudWatch::Alarm",
    "AWS::EC2::EIP",
    "AWS::EC2::FlowLog",
    "AWS::EC2::InternetGateway",
    "AWS::EC2::NatGateway",
    "AWS::EC2::RouteTable",
    "AWS::EC2::SecurityGroup",
    "AWS::EC2::Subnet",
    "AWS::EC2::VPC",
    "AWS::ECS::Cluster",
    "AWS::ECS::Service",
    "AWS::ECS::TaskDefinition",
    "AWS::ElastiCache::ReplicationGroup",
    "AWS::ElastiCache::SubnetGroup",
    "AWS::ElasticLoadBalancingV2::LoadBalancer",
    "AWS::ElasticLoadBalancingV2::TargetGroup",
    "AWS::GuardDuty::MalwareProtectionPlan",
    "AWS::IAM::Role",
    "AWS::Logs::LogGroup",
    "AWS::RDS::DBCluster",
    "AWS::RDS::DBClusterParameterGroup",
    "AWS::RDS::DBInstance",
    "AWS::RDS::DBParameterGroup",
    "AWS::RDS::DBProxy",
    "AWS::RDS::DBSubnetGroup",
    "AWS::S3::Bucket",
    "AWS::SNS::Topic",
    "AWS::SecretsManager::Secret",
    "AWS::WAFv2::WebACL",
];

/// `AWS::SSM::Parameter` takes its tags as a map.
const TAGGED_AS_MAP: &[&str] = &["AWS::SSM::Parameter"];

/// One resource before rendering.
#[derive(Debug, Clone)]
pub struct Resource {
    kind: &'static str,
    props: Map<String, Value>,
    depends_on: Vec<String>,
    policy: Option<&'static str>,
    extra_tags: Vec<(String, String)>,
}

impl Resource {
    pub fn new(kind: &'static str, props: Value) -> Self {
        let props = match props {
            Value::Object(m) => m,
            Value::Null => Map::new(),
            other => panic!("properties must be an object, got {other}"),
        };
        Self {
            kind,
            props,
            depends_on: Vec::new(),
            policy: None,
            extra_tags: Vec::new(),
        }
    }

    /// Explicit dependencies, by logical ID; rendered in the CDK's order.
    pub fn depends_on<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        for id in ids {
            let id = id.into();
            if !self.depends_on.contains(&id) {
                self.depends_on.push(id);
            }
        }
        self
    }

    /// `DeletionPolicy` and `UpdateReplacePolicy` (the CDK's removal policy sets both).
    pub fn policy(mut self, policy: &'static str) -> Self {
        self.policy = Some(policy);
        self
    }

    /// Tags besides the environment tag (the VPC's `Name`, subnet-type tags).
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra_tags.push((key.into(), value.into()));
        self
    }
}

/// A template being built for one stack.
#[derive(Debug, Clone)]
pub struct Template {
    stack: String,
    environment: String,
    order: Vec<String>,
    resources: HashMap<String, (String, Resource)>,
    pub parameters: Map<String, Value>,
    pub outputs: Map<String, Value>,
    pub mappings: Map<String, Value>,
}

impl Template {
    pub fn new(stack: &str, environment: &str) -> Self {
        Self {
            stack: stack.to_string(),
            environment: environment.to_string(),
            order: Vec::new(),
            resources: HashMap::new(),
            parameters: Map::new(),
            outputs: Map::new(),
            mappings: Map::new(),
        }
    }

    pub fn stack(&self) -> &str {
        &self.stack
    }

    /// The logical ID of the construct at `path` (components below the stack).
    pub fn id(&self, path: &[&str]) -> String {
        unique_id(path)
    }

    /// `Names.uniqueId` of the construct at `path`: the stack name is part of it. The CDK uses it
    /// for physical names (policy names, task family, key group names).
    pub fn unique_name(&self, path: &[&str]) -> String {
        let mut full = vec![self.stack.as_str()];
        full.extend_from_slice(path);
        unique_id(&full)
    }

    /// Adds a resource at `path`; returns its logical ID.
    pub fn add(&mut self, path: &[&str], resource: Resource) -> String {
        let id = self.id(path);
        self.add_with_id(id, path, resource)
    }

    /// Adds a resource whose logical ID the CDK overrides.
    pub fn add_with_id(&mut self, id: String, path: &[&str], resource: Resource) -> String {
        let full_path = format!("{}/{}", self.stack, path.join("/"));
        assert!(
            !self.resources.contains_key(&id),
            "duplicate logical ID {id} at {full_path}"
        );
        self.order.push(id.clone());
        self.resources.insert(id.clone(), (full_path, resource));
        id
    }

    /// Every resource ID under a construct path prefix (below the stack), in insertion order: the
    /// CDK's dependency on a construct means a dependency on every resource inside it.
    pub fn ids_under(&self, prefix: &[&str]) -> Vec<String> {
        let prefix = format!("{}/{}/", self.stack, prefix.join("/"));
        self.order
            .iter()
            .filter(|id| self.resources[*id].0.starts_with(&prefix))
            .cloned()
            .collect()
    }

    /// The finished template as JSON.
    pub fn render(&self) -> Value {
        let mut resources = Map::new();
        for id in &self.order {
            let (path, r) = &self.resources[id];
            let mut props = r.props.clone();
            if TAGGED.contains(&r.kind) {
                let mut tags = vec![(ENV_TAG.to_string(), self.environment.clone())];
                tags.extend(r.extra_tags.iter().cloned());
                tags.sort_by(|a, b| locale_cmp(&a.0, &b.0));
                let list: Vec<Value> = tags
                    .into_iter()
                    .map(|(k, v)| json!({"Key": k, "Value": v}))
                    .collect();
                props.insert("Tags".into(), Value::Array(list));
            } else if TAGGED_AS_MAP.contains(&r.kind) {
                props.insert("Tags".into(), json!({ ENV_TAG: self.environment }));
            }
            props.sort_keys();
            let mut out = Map::new();
            out.insert("Type".into(), json!(r.kind));
            if !props.is_empty() {
                out.insert("Properties".into(), Value::Object(props));
            }
            if !r.depends_on.is_empty() {
                let mut deps: Vec<&String> = r.depends_on.iter().collect();
                deps.sort_by(|a, b| {
                    let pa = self.resources.get(*a).map(|x| x.0.as_str()).unwrap_or(a);
                    let pb = self.resources.get(*b).map(|x| x.0.as_str()).unwrap_or(b);
                    locale_cmp(pa, pb)
                });
                out.insert("DependsOn".into(), json!(deps));
            }
            if let Some(p) = r.policy {
                out.insert("UpdateReplacePolicy".into(), json!(p));
                out.insert("DeletionPolicy".into(), json!(p));
            }
            out.insert("Metadata".into(), json!({ "aws:cdk:path": path }));
            resources.insert(id.clone(), Value::Object(out));
        }
        let mut t = Map::new();
        if !self.parameters.is_empty() {
            t.insert("Parameters".into(), Value::Object(self.parameters.clone()));
        }
        if !self.mappings.is_empty() {
            t.insert("Mappings".into(), Value::Object(self.mappings.clone()));
        }
        t.insert("Resources".into(), Value::Object(resources));
        if !self.outputs.is_empty() {
            t.insert("Outputs".into(), Value::Object(self.outputs.clone()));
        }
        Value::Object(t)
    }
}

/// `{"Ref": id}`
pub fn r#ref(id: &str) -> Value {
    json!({ "Ref": id })
}

/// `{"Fn::GetAtt": [id, attribute]}`
pub fn att(id: &str, attribute: &str) -> Value {
    json!({ "Fn::GetAtt": [id, attribute] })
}

/// `{"Fn::Join": ["", parts]}`
pub fn join(parts: Vec<Value>) -> Value {
    json!({ "Fn::Join": ["", parts] })
}

/// A trust policy letting one AWS service assume a role.
pub fn assume_role(service: &str) -> Value {
    json!({
        "Statement": [{
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": { "Service": service }
        }],
        "Version": "2012-10-17"
    })
}

/// A role's `DefaultPolicy`, as the CDK makes it from grants: an inline policy at
/// `<role_path>/DefaultPolicy/Resource`, named after its own logical ID, attached to `role`.
/// Returns the policy's logical ID.
pub fn default_policy(
    t: &mut Template,
    role_path: &[&str],
    role: &str,
    statements: Vec<Value>,
) -> String {
    let mut path = role_path.to_vec();
    path.extend(["DefaultPolicy", "Resource"]);
    let name = t.id(&path);
    t.add(
        &path,
        Resource::new(
            "AWS::IAM::Policy",
            json!({
                "PolicyDocument": {"Statement": statements, "Version": "2012-10-17"},
                "PolicyName": name,
                "Roles": [r#ref(role)]
            }),
        ),
    )
}

/// A policy statement; `actions` renders as a string when there is one, as the CDK does.
pub fn statement(actions: &[&str], resource: Value) -> Value {
    let action = if actions.len() == 1 {
        json!(actions[0])
    } else {
        json!(actions)
    };
    json!({ "Action": action, "Effect": "Allow", "Resource": resource })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_tags_metadata_and_sorted_dependencies() {
        let mut t = Template::new("S", "dev");
        let b = t.add(
            &["A", "Zeta", "Resource"],
            Resource::new("AWS::Logs::MetricFilter", json!({})),
        );
        let a = t.add(
            &["A", "Alpha", "Resource"],
            Resource::new("AWS::Logs::MetricFilter", json!({})),
        );
        let c = t.add(
            &["A", "Role", "Resource"],
            Resource::new("AWS::IAM::Role", json!({"B": 1, "A": 2}))
                .tag("Name", "x")
                .depends_on([b.clone(), a.clone()])
                .policy("Retain"),
        );
        let out = t.render();
        let role = &out["Resources"][&c];
        assert_eq!(role["DependsOn"], json!([a, b]));
        assert_eq!(role["DeletionPolicy"], "Retain");
        assert_eq!(role["UpdateReplacePolicy"], "Retain");
        assert_eq!(
            role["Properties"]["Tags"],
            json!([{"Key": "medplum:environment", "Value": "dev"}, {"Key": "Name", "Value": "x"}])
        );
        assert_eq!(role["Metadata"]["aws:cdk:path"], "S/A/Role/Resource");
        let keys: Vec<&String> = role["Properties"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["A", "B", "Tags"]);
        // Untagged types get no Tags.
        assert!(out["Resources"][&a]["Properties"].get("Tags").is_none());
    }
}
