//! The SSM parameters the stack writes under `/medplum/<name>/` for the server to read:
//! `awsRegion`, `DatabaseSecrets`, `RedisSecrets`, `botLambdaRoleArn`, and with an RDS Proxy
//! `databaseProxyEndpoint` (the server then connects through it). CloudFormation creates them
//! as `String`; every other server setting is written by medplum-init's parameters step.

use serde_json::{Value, json};

use super::settings::Settings;
use super::template::{Resource, Template, att, r#ref};

pub fn build(
    t: &mut Template,
    s: &Settings,
    database_secret: Value,
    proxy_endpoint: Option<Value>,
    redis_secrets: &str,
    bot_role: &str,
) {
    let mut params: Vec<(&str, &str, &str, Value)> = vec![
        (
            "RegionParameter",
            "awsRegion",
            "AWS region",
            json!(s.region),
        ),
        (
            "DatabaseSecretsParameter",
            "DatabaseSecrets",
            "Database secrets ARN",
            database_secret,
        ),
    ];
    if let Some(endpoint) = proxy_endpoint {
        params.push((
            "DatabaseProxyEndpointParameter",
            "databaseProxyEndpoint",
            "Database proxy endpoint",
            endpoint,
        ));
    }
    params.extend([
        (
            "RedisSecretsParameter",
            "RedisSecrets",
            "Redis secrets ARN",
            r#ref(redis_secrets),
        ),
        (
            "BotLambdaRoleParameter",
            "botLambdaRoleArn",
            "Bot lambda execution role ARN",
            att(bot_role, "Arn"),
        ),
    ]);
    for (construct, key, description, value) in params {
        t.add(
            &["BackEnd", construct, "Resource"],
            Resource::new(
                "AWS::SSM::Parameter",
                json!({
                    "Description": description,
                    "Name": format!("/medplum/{}/{key}", s.name),
                    "Tier": "Standard",
                    "Type": "String",
                    "Value": value
                }),
            ),
        );
    }
}
