//! The Medplum server on ECS Fargate (`BackEnd/Cluster`, `TaskDefinition`, `FargateService`):
//! the bot Lambda role, the task role with Medplum's inline policy, the task definition and its
//! execution role, the log group, the service's security group, the service, and optional CPU
//! target-tracking autoscaling.

use serde_json::{Value, json};

use super::load_balancer::{LISTENER, TARGET_GROUP};
use super::network::Network;
use super::settings::Settings;
use super::template::{
    Resource, Template, assume_role, att, default_policy, join, r#ref, statement,
};
use crate::config::US_EAST_1;

pub fn bot_lambda_role(t: &mut Template) -> String {
    t.add(
        &["BackEnd", "BotLambdaRole", "Resource"],
        Resource::new(
            "AWS::IAM::Role",
            json!({"AssumeRolePolicyDocument": assume_role("lambda.amazonaws.com")}),
        ),
    )
}

/// An image in the stack's own ECR registry, which the CDK references by repository so the
/// execution role gets pull rights.
struct EcrImage {
    repository: String,
    /// `:tag` or `@sha256:…`
    reference: String,
}

fn ecr_image(s: &Settings, image: &str) -> Option<EcrImage> {
    let host = format!("{}.dkr.ecr.{}.amazonaws.com/", s.account, s.region);
    let rest = image.strip_prefix(&host)?;
    // A digest is split at '@'; otherwise at the last ':' (the CDK's greedy pattern).
    let (repository, reference) = match rest.split_once('@') {
        Some((r, d)) => (r, format!("@{d}")),
        None => {
            let (r, tag) = rest.rsplit_once(':')?;
            (r, format!(":{tag}"))
        }
    };
    (!repository.is_empty()).then(|| EcrImage {
        repository: repository.to_string(),
        reference,
    })
}

fn image_value(s: &Settings, image: &str) -> Value {
    match ecr_image(s, image) {
        Some(e) => join(vec![
            json!(format!("{}.dkr.ecr.{}.", s.account, s.region)),
            r#ref("AWS::URLSuffix"),
            json!(format!("/{}{}", e.repository, e.reference)),
        ]),
        None => json!(image),
    }
}

fn environment(vars: &[(String, String)]) -> Value {
    Value::Array(
        vars.iter()
            .map(|(k, v)| json!({"Name": k, "Value": v}))
            .collect(),
    )
}

/// The task role's inline policy: what the Medplum server calls.
fn task_policy(s: &Settings, bot_role: &str) -> Value {
    let (r, a, n) = (&s.region, &s.account, &s.name);
    json!({
        "Statement": [
            statement(
                &["logs:PutLogEvents", "logs:CreateLogGroup", "logs:CreateLogStream",
                  "logs:DescribeLogStreams", "logs:DescribeLogGroups", "logs:PutRetentionPolicy"],
                json!(format!("arn:aws:logs:{r}:{a}:log-group:*")),
            ),
            statement(
                &["secretsmanager:GetResourcePolicy", "secretsmanager:GetSecretValue",
                  "secretsmanager:DescribeSecret", "secretsmanager:ListSecrets",
                  "secretsmanager:ListSecretVersionIds"],
                json!(format!("arn:aws:secretsmanager:{r}:{a}:secret:*")),
            ),
            statement(
                &["ssm:GetParametersByPath", "ssm:GetParameters", "ssm:GetParameter",
                  "ssm:DescribeParameters"],
                json!(format!("arn:aws:ssm:{r}:{a}:parameter/medplum/{n}/*")),
            ),
            statement(
                &["ses:SendEmail", "ses:SendRawEmail"],
                json!(format!("arn:aws:ses:{r}:{a}:identity/*")),
            ),
            statement(&["s3:ListBucket"], json!(format!("arn:aws:s3:::{}", s.storage_bucket))),
            statement(
                &["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                json!(format!("arn:aws:s3:::{}/*", s.storage_bucket)),
            ),
            statement(&["iam:ListRoles", "iam:GetRole", "iam:PassRole"], att(bot_role, "Arn")),
            statement(
                &["lambda:CreateFunction", "lambda:GetFunction", "lambda:GetFunctionConfiguration",
                  "lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration",
                  "lambda:InvokeFunction"],
                json!(format!("arn:aws:lambda:{r}:{a}:function:medplum-bot-lambda-*")),
            ),
            statement(
                &["lambda:ListLayerVersions"],
                json!(format!("arn:aws:lambda:{r}:{a}:layer:medplum-bot-layer")),
            ),
            statement(
                &["lambda:GetLayerVersion"],
                json!(format!("arn:aws:lambda:{r}:{a}:layer:medplum-bot-layer:*")),
            ),
            statement(
                &["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
                  "xray:GetSamplingTargets", "xray:GetSamplingStatisticSummaries"],
                json!("*"),
            ),
            statement(
                &["comprehend:DetectEntities", "comprehend:DetectKeyPhrases",
                  "comprehend:DetectDominantLanguage", "comprehend:DetectSentiment",
                  "comprehend:DetectTargetedSentiment", "comprehend:DetectSyntax",
                  "comprehendmedical:DetectEntitiesV2", "textract:DetectDocumentText",
                  "textract:AnalyzeDocument", "textract:StartDocumentTextDetection",
                  "textract:GetDocumentTextDetection"],
                json!("*"),
            ),
        ],
        "Version": "2012-10-17"
    })
}

/// Everything from the ECS cluster to the Fargate service. `wait_for` are the resources the
/// service must start after (database and Redis).
pub fn build(t: &mut Template, s: &Settings, net: &Network, bot_role: &str, wait_for: &[String]) {
    let mut cluster_props = json!({});
    if let Some(ci) = &s.container_insights {
        cluster_props["ClusterSettings"] = json!([{"Name": "containerInsights", "Value": ci}]);
    }
    let cluster = t.add(
        &["BackEnd", "Cluster", "Resource"],
        Resource::new("AWS::ECS::Cluster", cluster_props),
    );
    let task_role = t.add(
        &["BackEnd", "TaskExecutionRole", "Resource"],
        Resource::new(
            "AWS::IAM::Role",
            json!({
                "AssumeRolePolicyDocument": assume_role("ecs-tasks.amazonaws.com"),
                "Description": "Medplum Server Task Execution Role",
                "Policies": [{"PolicyDocument": task_policy(s, bot_role), "PolicyName": "TaskExecutionPolicies"}]
            }),
        ),
    );
    let exec_role = t.id(&["BackEnd", "TaskDefinition", "ExecutionRole", "Resource"]);
    let log_group = t.id(&["BackEnd", "LogGroup", "Resource"]);
    let logging = json!({
        "LogDriver": "awslogs",
        "Options": {
            "awslogs-group": r#ref(&log_group),
            "awslogs-stream-prefix": "Medplum",
            "awslogs-region": s.region
        }
    });
    let command = if s.region == US_EAST_1 {
        format!("aws:/medplum/{}/", s.name)
    } else {
        format!("aws:{}:/medplum/{}/", s.region, s.name)
    };
    let mut server = json!({"Command": [command]});
    if !s.environment.is_empty() {
        server["Environment"] = environment(&s.environment);
    }
    server["Essential"] = json!(true);
    server["Image"] = image_value(s, &s.image);
    server["LogConfiguration"] = logging.clone();
    server["Name"] = json!("MedplumTaskDefinition");
    server["PortMappings"] =
        json!([{"ContainerPort": s.api_port, "HostPort": s.api_port, "Protocol": "tcp"}]);
    let mut containers = vec![server];
    for c in &s.extra_containers {
        let mut def = json!({});
        if let Some(cmd) = &c.command {
            def["Command"] = json!(cmd);
        }
        if !c.environment.is_empty() {
            def["Environment"] = environment(&c.environment);
        }
        def["Essential"] = json!(c.essential);
        def["Image"] = image_value(s, &c.image);
        def["LogConfiguration"] = logging.clone();
        def["Name"] = json!(c.name);
        containers.push(def);
    }
    t.add(
        &["BackEnd", "TaskDefinition", "Resource"],
        Resource::new(
            "AWS::ECS::TaskDefinition",
            json!({
                "ContainerDefinitions": containers,
                "Cpu": s.cpu.to_string(),
                "ExecutionRoleArn": att(&exec_role, "Arn"),
                "Family": t.unique_name(&["BackEnd", "TaskDefinition"]),
                "Memory": s.memory.to_string(),
                "NetworkMode": "awsvpc",
                "RequiresCompatibilities": ["FARGATE"],
                "TaskRoleArn": att(&task_role, "Arn")
            }),
        ),
    );
    t.add(
        &["BackEnd", "TaskDefinition", "ExecutionRole", "Resource"],
        Resource::new(
            "AWS::IAM::Role",
            json!({"AssumeRolePolicyDocument": assume_role("ecs-tasks.amazonaws.com")}),
        ),
    );
    // Pull rights for images in the stack's ECR, then the log stream rights, per container in
    // order; identical statements appear once.
    let mut statements: Vec<Value> = Vec::new();
    let mut push = |st: Value| {
        if !statements.contains(&st) {
            statements.push(st);
        }
    };
    let images = std::iter::once(s.image.as_str())
        .chain(s.extra_containers.iter().map(|c| c.image.as_str()));
    for image in images {
        if let Some(e) = ecr_image(s, image) {
            push(statement(
                &[
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchGetImage",
                ],
                json!(format!(
                    "arn:aws:ecr:{}:{}:repository/{}",
                    s.region, s.account, e.repository
                )),
            ));
            push(statement(&["ecr:GetAuthorizationToken"], json!("*")));
        }
        push(statement(
            &["logs:CreateLogStream", "logs:PutLogEvents"],
            att(&log_group, "Arn"),
        ));
    }
    default_policy(
        t,
        &["BackEnd", "TaskDefinition", "ExecutionRole"],
        &exec_role,
        statements,
    );
    t.add(
        &["BackEnd", "LogGroup", "Resource"],
        Resource::new(
            "AWS::Logs::LogGroup",
            json!({"LogGroupName": format!("/ecs/medplum/{}", s.name), "RetentionInDays": 731}),
        )
        .policy("Delete"),
    );
    let sg = t.add(
        &["BackEnd", "ServiceSecurityGroup", "Resource"],
        Resource::new(
            "AWS::EC2::SecurityGroup",
            json!({
                "GroupDescription": format!("{}/BackEnd/ServiceSecurityGroup", t.stack()),
                "GroupName": "MedplumSecurityGroup",
                "SecurityGroupEgress": [{
                    "CidrIp": "0.0.0.0/0",
                    "Description": "Allow all outbound traffic by default",
                    "IpProtocol": "-1"
                }],
                "VpcId": net.vpc.clone()
            }),
        ),
    );
    // The load balancer reaches the tasks on the API port.
    let (lb_sg_name, lb_sg) = match &s.lb_security_group {
        Some(imported) => (
            t.unique_name(&["BackEnd", "LoadBalancerSecurityGroup"]),
            json!(imported),
        ),
        None => (
            t.unique_name(&["BackEnd", "LoadBalancer", "SecurityGroup"]),
            att(
                &t.id(&["BackEnd", "LoadBalancer", "SecurityGroup", "Resource"]),
                "GroupId",
            ),
        ),
    };
    let rule = format!("from {lb_sg_name}:{}", s.api_port);
    t.add(
        &["BackEnd", "ServiceSecurityGroup", &rule],
        Resource::new(
            "AWS::EC2::SecurityGroupIngress",
            json!({
                "Description": "Load balancer to target",
                "FromPort": s.api_port,
                "GroupId": att(&sg, "GroupId"),
                "IpProtocol": "tcp",
                "SourceSecurityGroupId": lb_sg,
                "ToPort": s.api_port
            }),
        ),
    );
    // The CDK's service depends on the database, Redis and the task role as a construct (so its
    // autoscaling resources do too), and on the listener as a resource.
    let mut construct_deps: Vec<String> = wait_for.to_vec();
    construct_deps.push(task_role.clone());
    let subnets: Vec<Value> = net.private_subnets.clone();
    let service = t.add(
        &["BackEnd", "FargateService", "Service"],
        Resource::new(
            "AWS::ECS::Service",
            json!({
                "Cluster": r#ref(&cluster),
                "DeploymentConfiguration": {
                    "Alarms": {"AlarmNames": [], "Enable": false, "Rollback": false},
                    "MaximumPercent": 200,
                    "MinimumHealthyPercent": 50
                },
                "DesiredCount": s.desired_count,
                "EnableECSManagedTags": false,
                "HealthCheckGracePeriodSeconds": 300,
                "LaunchType": "FARGATE",
                "LoadBalancers": [{
                    "ContainerName": "MedplumTaskDefinition",
                    "ContainerPort": s.api_port,
                    "TargetGroupArn": r#ref(&t.id(TARGET_GROUP))
                }],
                "NetworkConfiguration": {
                    "AwsvpcConfiguration": {
                        "AssignPublicIp": "DISABLED",
                        "SecurityGroups": [att(&sg, "GroupId")],
                        "Subnets": subnets
                    }
                },
                "TaskDefinition": r#ref(&t.id(&["BackEnd", "TaskDefinition", "Resource"]))
            }),
        )
        .depends_on(construct_deps.iter().cloned())
        .depends_on([t.id(LISTENER)]),
    );
    if let Some(a) = &s.autoscaling {
        let target = t.add(
            &["BackEnd", "FargateService", "TaskCount", "Target", "Resource"],
            Resource::new(
                "AWS::ApplicationAutoScaling::ScalableTarget",
                json!({
                    "MaxCapacity": a.max,
                    "MinCapacity": a.min,
                    "ResourceId": join(vec![
                        json!("service/"), r#ref(&cluster), json!("/"), att(&service, "Name"),
                    ]),
                    "RoleARN": join(vec![
                        json!("arn:"),
                        r#ref("AWS::Partition"),
                        json!(format!(":iam::{}:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService", s.account)),
                    ]),
                    "ScalableDimension": "ecs:service:DesiredCount",
                    "ServiceNamespace": "ecs"
                }),
            )
            .depends_on(construct_deps.iter().cloned()),
        );
        let policy_path = [
            "BackEnd",
            "FargateService",
            "TaskCount",
            "Target",
            "CpuScaling",
        ];
        let policy_name = t.unique_name(&policy_path);
        let target_value = if a.target_cpu.fract() == 0.0 {
            json!(a.target_cpu as i64)
        } else {
            json!(a.target_cpu)
        };
        t.add(
            &["BackEnd", "FargateService", "TaskCount", "Target", "CpuScaling", "Resource"],
            Resource::new(
                "AWS::ApplicationAutoScaling::ScalingPolicy",
                json!({
                    "PolicyName": policy_name,
                    "PolicyType": "TargetTrackingScaling",
                    "ScalingTargetId": r#ref(&target),
                    "TargetTrackingScalingPolicyConfiguration": {
                        "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
                        "ScaleInCooldown": a.scale_in_cooldown,
                        "ScaleOutCooldown": a.scale_out_cooldown,
                        "TargetValue": target_value
                    }
                }),
            )
            .depends_on(construct_deps.iter().cloned()),
        );
    }
}
