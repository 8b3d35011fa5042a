//! The AWS stack around the ECS services: an application load balancer with
//! HTTPS, target groups health-checked on the readiness path, listener rules
//! per route, security groups that open exactly the needed ports, ECS
//! services with circuit-breaker rollback and autoscaling, and RDS /
//! ElastiCache for the dependencies. Passwords are dynamic references
//! (`{{resolve:...}}`), never values.

use berth_plan::{DependencyPlan, Plan, ProbeCheck, Replicas, ServicePlan};
use berth_spec::DependencyKind;
use serde_json::{Map, Value, json};

use super::Target;
use super::ecs::{container, secret_source, task_size};
use crate::{Output, header, yaml};

/// `api-gateway` → `ApiGateway`: CloudFormation logical ids are alphanumeric.
fn logical(name: &str) -> String {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}

fn r(name: &str) -> Value {
    json!({ "Ref": name })
}

fn get_att(resource: &str, attribute: &str) -> Value {
    json!({ "Fn::GetAtt": [resource, attribute] })
}

/// ECS API JSON (camelCase) to CloudFormation properties (PascalCase); the
/// keys of log driver options are the driver's own and stay as they are.
fn pascal(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let key = k[..1].to_uppercase() + &k[1..];
                    let v = if k == "options" { v } else { pascal(v) };
                    (key, v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(pascal).collect()),
        other => other,
    }
}

/// Values that name other resources (`${Db.Endpoint.Address}`) become `Fn::Sub`.
fn substitute(value: Value) -> Value {
    match value {
        Value::String(s) if s.contains("${") => json!({ "Fn::Sub": s }),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, substitute(v))).collect()),
        Value::Array(items) => Value::Array(items.into_iter().map(substitute).collect()),
        other => other,
    }
}

/// A password as a CloudFormation dynamic reference.
fn resolve(plan: &Plan, secret: &str) -> String {
    let source = secret_source(plan, secret);
    if source.starts_with("arn:") {
        format!("{{{{resolve:secretsmanager:{source}:SecretString}}}}")
    } else {
        format!("{{{{resolve:ssm-secure:{source}}}}}")
    }
}

fn dependency_endpoint(d: &DependencyPlan) -> String {
    let id = logical(&d.name);
    match d.kind {
        DependencyKind::Postgres => format!("${{{id}.Endpoint.Address}}"),
        DependencyKind::Redis => format!("${{{id}.PrimaryEndPoint.Address}}"),
    }
}

pub fn render(plan: &Plan) -> Output {
    let mut out = Output::default();
    let mut resources = Map::new();
    let mut parameters = Map::new();
    parameters
        .insert("VpcId".to_owned(), json!({ "Type": "AWS::EC2::VPC::Id", "Description": "VPC the stack lives in" }));
    parameters.insert(
        "Subnets".to_owned(),
        json!({ "Type": "List<AWS::EC2::Subnet::Id>", "Description": "Subnets in at least two availability zones" }),
    );
    if let Some(vpc) = plan.targets.ecs.as_ref().and_then(|e| e.vpc_id.clone()) {
        parameters["VpcId"]["Default"] = json!(vpc);
    }
    let edge = plan.edge.as_ref();
    let tls = edge.is_some_and(|e| e.tls.is_some());
    if tls {
        parameters.insert("CertificateArn".to_owned(), json!({ "Type": "String", "Description": "ACM certificate for the edge's hosts", "AllowedPattern": "^arn:aws[a-z-]*:acm:.+" }));
    }
    let project = &plan.project;
    resources.insert("Cluster".to_owned(), json!({ "Type": "AWS::ECS::Cluster", "Properties": { "ClusterName": plan.targets.ecs.as_ref().and_then(|e| e.cluster.clone()).unwrap_or_else(|| project.clone()), "ClusterSettings": [{ "Name": "containerInsights", "Value": "enabled" }] } }));
    resources.insert("LogGroup".to_owned(), json!({ "Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain", "Properties": { "LogGroupName": format!("/ecs/{project}"), "RetentionInDays": 30 } }));
    let secret_arns: Vec<Value> = plan
        .secrets
        .iter()
        .map(|s| match &s.aws {
            Some(arn) => json!(arn),
            None => json!({ "Fn::Sub": format!("arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter/{project}/{}", s.name) }),
        })
        .collect();
    let mut policies = Vec::new();
    if !secret_arns.is_empty() {
        policies.push(json!({ "PolicyName": "read-secrets", "PolicyDocument": { "Version": "2012-10-17", "Statement": [{ "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "ssm:GetParameters"], "Resource": secret_arns }] } }));
    }
    resources.insert(
        "ExecutionRole".to_owned(),
        json!({
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": { "Version": "2012-10-17", "Statement": [{ "Effect": "Allow", "Principal": { "Service": "ecs-tasks.amazonaws.com" }, "Action": "sts:AssumeRole" }] },
                "ManagedPolicyArns": [{ "Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy" }],
                "Policies": policies,
            }
        }),
    );
    if let Some(edge) = edge {
        let mut ingress = vec![
            json!({ "IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "CidrIp": "0.0.0.0/0", "Description": "HTTP" }),
        ];
        if tls {
            ingress.push(json!({ "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0", "Description": "HTTPS" }));
        }
        resources.insert("LoadBalancerSecurityGroup".to_owned(), json!({ "Type": "AWS::EC2::SecurityGroup", "Properties": { "GroupDescription": format!("{project} load balancer"), "VpcId": r("VpcId"), "SecurityGroupIngress": ingress } }));
        resources.insert(
            "LoadBalancer".to_owned(),
            json!({
                "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
                "Properties": {
                    "Type": "application",
                    "Scheme": "internet-facing",
                    "Subnets": r("Subnets"),
                    "SecurityGroups": [get_att("LoadBalancerSecurityGroup", "GroupId")],
                    "LoadBalancerAttributes": [
                        { "Key": "idle_timeout.timeout_seconds", "Value": alb_idle_timeout(edge, &mut out).to_string() },
                        { "Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true" },
                    ],
                }
            }),
        );
        listeners(plan, edge, tls, &mut resources, &mut out);
    }
    for d in &plan.dependencies {
        dependency(plan, d, &mut resources, &mut out);
    }
    for s in &plan.services {
        service(plan, s, &mut resources, &mut out);
    }
    let mut outputs = Map::new();
    if edge.is_some() {
        outputs.insert("LoadBalancerDns".to_owned(), json!({ "Description": "Point the edge's hosts here (CNAME or alias)", "Value": get_att("LoadBalancer", "DNSName") }));
    }
    let template = json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": format!("{project}: services on ECS Fargate behind an application load balancer, with their dependencies (generated by berth)"),
        "Parameters": parameters,
        "Resources": resources,
        "Outputs": outputs,
    });
    out.file("template.yaml", header::comment("#", plan, "cloudformation") + &yaml::to_string(&template));
    out
}

fn listeners(
    plan: &Plan,
    edge: &berth_plan::EdgePlan,
    tls: bool,
    resources: &mut Map<String, Value>,
    out: &mut Output,
) {
    let mut groups: Vec<(String, String)> = Vec::new();
    for route in &edge.routes {
        let id = format!("{}{}TargetGroup", logical(&route.service), logical(&route.port.name));
        if groups.iter().any(|(g, _)| *g == id) {
            continue;
        }
        groups.push((id.clone(), route.service.clone()));
        let service = plan.services.iter().find(|s| s.name == route.service);
        let readiness = service.and_then(|s| s.probes.readiness.as_ref());
        let mut props = json!({
            "TargetType": "ip",
            "Protocol": "HTTP",
            "Port": route.port.port,
            "VpcId": r("VpcId"),
            "Matcher": { "HttpCode": "200-399" },
            "TargetGroupAttributes": [{ "Key": "deregistration_delay.timeout_seconds", "Value": deregistration_delay(service, out).to_string() }],
        });
        if let Some(p) = readiness {
            if let ProbeCheck::Http { path, .. } = &p.check {
                props["HealthCheckPath"] = json!(path);
            }
            props["HealthCheckIntervalSeconds"] = json!(p.interval.as_secs().clamp(5, 300));
            props["HealthCheckTimeoutSeconds"] =
                json!(p.timeout.as_secs().clamp(2, 120).min(p.interval.as_secs().clamp(5, 300) - 1));
            props["UnhealthyThresholdCount"] = json!(p.failure_threshold.clamp(2, 10));
            props["HealthyThresholdCount"] = json!(p.success_threshold.clamp(2, 10));
        }
        resources.insert(id, json!({ "Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": props }));
    }
    let not_found = json!([{ "Type": "fixed-response", "FixedResponseConfig": { "StatusCode": "404", "ContentType": "text/plain", "MessageBody": "not found" } }]);
    let routing_listener = if tls { "HttpsListener" } else { "HttpListener" };
    if tls {
        resources.insert(
            "HttpListener".to_owned(),
            json!({ "Type": "AWS::ElasticLoadBalancingV2::Listener", "Properties": { "LoadBalancerArn": r("LoadBalancer"), "Port": 80, "Protocol": "HTTP", "DefaultActions": [{ "Type": "redirect", "RedirectConfig": { "Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301" } }] } }),
        );
        resources.insert(
            "HttpsListener".to_owned(),
            json!({ "Type": "AWS::ElasticLoadBalancingV2::Listener", "Properties": { "LoadBalancerArn": r("LoadBalancer"), "Port": 443, "Protocol": "HTTPS", "SslPolicy": ssl_policy(edge), "Certificates": [{ "CertificateArn": r("CertificateArn") }], "DefaultActions": not_found } }),
        );
    } else {
        resources.insert("HttpListener".to_owned(), json!({ "Type": "AWS::ElasticLoadBalancingV2::Listener", "Properties": { "LoadBalancerArn": r("LoadBalancer"), "Port": 80, "Protocol": "HTTP", "DefaultActions": not_found } }));
    }
    for (i, route) in edge.routes.iter().enumerate() {
        if route.fallback.is_some() {
            out.unsupported(
                Target::Cloudformation,
                format!("the fallback service of `{}`", route.path),
                "a target group has no backup targets; keep the service above one task",
            );
        }
        let mut conditions = vec![];
        let values = if route.path == "/" {
            vec!["/*".to_owned()]
        } else {
            vec![route.path.clone(), format!("{}/*", route.path.trim_end_matches('/'))]
        };
        conditions.push(json!({ "Field": "path-pattern", "PathPatternConfig": { "Values": values } }));
        if let Some(host) = &route.host {
            conditions.push(json!({ "Field": "host-header", "HostHeaderConfig": { "Values": [host] } }));
        }
        if !route.allow.is_empty() {
            conditions.push(json!({ "Field": "source-ip", "SourceIpConfig": { "Values": route.allow.iter().map(|a| if a.contains('/') { a.clone() } else if a.contains(':') { format!("{a}/128") } else { format!("{a}/32") }).collect::<Vec<_>>() } }));
        }
        let group = format!("{}{}TargetGroup", logical(&route.service), logical(&route.port.name));
        resources.insert(
            format!("Route{i}Rule"),
            json!({ "Type": "AWS::ElasticLoadBalancingV2::ListenerRule", "Properties": { "ListenerArn": r(routing_listener), "Priority": i + 1, "Conditions": conditions, "Actions": [{ "Type": "forward", "TargetGroupArn": r(&group) }] } }),
        );
    }
}

fn dependency(plan: &Plan, d: &DependencyPlan, resources: &mut Map<String, Value>, out: &mut Output) {
    let id = logical(&d.name);
    let clients: Vec<Value> = d
        .used_by
        .iter()
        .map(|s| json!({ "IpProtocol": "tcp", "FromPort": d.port, "ToPort": d.port, "SourceSecurityGroupId": get_att(&format!("{}SecurityGroup", logical(s)), "GroupId"), "Description": format!("from {s}") }))
        .collect();
    resources.insert(format!("{id}SecurityGroup"), json!({ "Type": "AWS::EC2::SecurityGroup", "Properties": { "GroupDescription": format!("{} {}", plan.project, d.name), "VpcId": r("VpcId"), "SecurityGroupIngress": clients } }));
    let storage_gib = d.storage.0.div_ceil(1 << 30).max(20);
    match d.kind {
        DependencyKind::Postgres => {
            if !d.extensions.iter().all(|e| {
                ["pgcrypto", "uuid-ossp", "pg_trgm", "citext", "hstore", "postgis", "pg_stat_statements", "vector"]
                    .contains(&e.as_str())
            }) {
                out.unsupported(Target::Cloudformation, format!("the extensions {:?} of `{}` on RDS", d.extensions, d.name), "RDS for PostgreSQL does not offer every extension (TimescaleDB among them); run it on EC2 or Timescale Cloud");
            }
            resources.insert(format!("{id}SubnetGroup"), json!({ "Type": "AWS::RDS::DBSubnetGroup", "Properties": { "DBSubnetGroupDescription": format!("{} {}", plan.project, d.name), "SubnetIds": r("Subnets") } }));
            let major = d.version.split('.').next().unwrap_or("16").to_owned();
            // RDS creates instances only on specific minor versions; a bare
            // major picks the newest one known here, then upgrades itself.
            let version = if d.version.contains('.') {
                d.version.clone()
            } else {
                match major.as_str() {
                    "13" => "13.23",
                    "14" => "14.24",
                    "15" => "15.19",
                    "16" => "16.15",
                    "17" => "17.11",
                    "18" => "18.6",
                    other => other,
                }
                .to_owned()
            };
            let mut props = json!({
                "Engine": "postgres",
                "EngineVersion": version,
                "AutoMinorVersionUpgrade": true,
                "DBInstanceClass": db_class(d, out),
                "AllocatedStorage": storage_gib.to_string(),
                "StorageType": "gp3",
                "StorageEncrypted": true,
                "DBName": d.database.clone().unwrap_or_default().replace('-', "_"),
                "MasterUsername": d.user.clone().unwrap_or_default().replace('-', "_"),
                "DBSubnetGroupName": r(&format!("{id}SubnetGroup")),
                "VPCSecurityGroups": [get_att(&format!("{id}SecurityGroup"), "GroupId")],
                "PubliclyAccessible": false,
                "BackupRetentionPeriod": retention_days(d, out),
                "DeletionProtection": true,
                "EnablePerformanceInsights": true,
                "CopyTagsToSnapshot": true,
            });
            match &d.password_secret {
                Some(secret) => props["MasterUserPassword"] = json!(resolve(plan, secret)),
                None => props["ManageMasterUserPassword"] = json!(true),
            }
            if !d.settings.is_empty() {
                resources.insert(
                    format!("{id}Parameters"),
                    json!({ "Type": "AWS::RDS::DBParameterGroup", "Properties": { "Description": format!("{} {} settings", plan.project, d.name), "Family": format!("postgres{major}"), "Parameters": d.settings } }),
                );
                props["DBParameterGroupName"] = r(&format!("{id}Parameters"));
            }
            resources.insert(id, json!({ "Type": "AWS::RDS::DBInstance", "DeletionPolicy": "Snapshot", "UpdateReplacePolicy": "Snapshot", "Properties": props }));
        }
        DependencyKind::Redis => {
            resources.insert(format!("{id}SubnetGroup"), json!({ "Type": "AWS::ElastiCache::SubnetGroup", "Properties": { "Description": format!("{} {}", plan.project, d.name), "SubnetIds": r("Subnets") } }));
            let mut props = json!({
                "ReplicationGroupDescription": format!("{} {}", plan.project, d.name),
                "Engine": "redis",
                "CacheNodeType": cache_node(d, out),
                "NumCacheClusters": 1,
                "AutomaticFailoverEnabled": false,
                "TransitEncryptionEnabled": true,
                "AtRestEncryptionEnabled": true,
                "CacheSubnetGroupName": r(&format!("{id}SubnetGroup")),
                "SecurityGroupIds": [get_att(&format!("{id}SecurityGroup"), "GroupId")],
                "SnapshotRetentionLimit": 7,
            });
            if let Some(secret) = &d.password_secret {
                props["AuthToken"] = json!(resolve(plan, secret));
            }
            resources.insert(id, json!({ "Type": "AWS::ElastiCache::ReplicationGroup", "DeletionPolicy": "Snapshot", "UpdateReplacePolicy": "Snapshot", "Properties": props }));
        }
    }
}

fn service(plan: &Plan, s: &ServicePlan, resources: &mut Map<String, Value>, out: &mut Output) {
    let Some(image) = &s.image else {
        out.unsupported(
            Target::Cloudformation,
            format!("service `{}` without an `image`", s.name),
            "ECS runs images; add `image:`",
        );
        return;
    };
    let id = logical(&s.name);
    let routes: Vec<&berth_plan::RoutePlan> =
        plan.edge.iter().flat_map(|e| e.routes.iter()).filter(|r| r.service == s.name).collect();
    let mut ports: Vec<u16> = routes.iter().map(|r| r.port.port).collect();
    ports.sort_unstable();
    ports.dedup();
    let ingress: Vec<Value> = ports
        .iter()
        .map(|p| json!({ "IpProtocol": "tcp", "FromPort": p, "ToPort": p, "SourceSecurityGroupId": get_att("LoadBalancerSecurityGroup", "GroupId"), "Description": "from the load balancer" }))
        .collect();
    resources.insert(format!("{id}SecurityGroup"), json!({ "Type": "AWS::EC2::SecurityGroup", "Properties": { "GroupDescription": format!("{} {}", plan.project, s.name), "VpcId": r("VpcId"), "SecurityGroupIngress": ingress } }));
    let endpoint = |dep: &str| {
        plan.dependencies.iter().find(|d| d.name == dep).map_or_else(|| dep.to_owned(), dependency_endpoint)
    };
    let mut definition = pascal(container(plan, s, image, &endpoint, Target::Cloudformation, out));
    if let Some(env) = definition.get_mut("Environment") {
        *env = substitute(env.take());
    }
    definition["LogConfiguration"]["Options"]["awslogs-group"] = r("LogGroup");
    definition["LogConfiguration"]["Options"]["awslogs-region"] = json!({ "Ref": "AWS::Region" });
    // Dependencies with TLS in transit: Redis on ElastiCache needs rediss://.
    if let Some(env) = definition.get_mut("Environment").and_then(Value::as_array_mut) {
        for var in env {
            if let Some(Value::String(v)) = var.get_mut("Value").and_then(|v| v.get_mut("Fn::Sub")) {
                *v = v.replacen("redis://", "rediss://", 1);
            }
        }
    }
    let (cpu, memory) = task_size(plan, s);
    let volumes: Vec<Value> = s.volumes.iter().map(|v| json!({ "Name": v.name })).collect();
    resources.insert(
        format!("{id}TaskDefinition"),
        json!({
            "Type": "AWS::ECS::TaskDefinition",
            "Properties": {
                "Family": format!("{}-{}", plan.project, s.name),
                "Cpu": cpu.to_string(),
                "Memory": memory.to_string(),
                "NetworkMode": "awsvpc",
                "RequiresCompatibilities": ["FARGATE"],
                "RuntimePlatform": { "OperatingSystemFamily": "LINUX", "CpuArchitecture": "X86_64" },
                "ExecutionRoleArn": get_att("ExecutionRole", "Arn"),
                "ContainerDefinitions": [definition],
                "Volumes": volumes,
            }
        }),
    );
    let desired = match s.replicas {
        Replicas::Fixed { count } => count,
        Replicas::Autoscaled { min, .. } => min,
    };
    let load_balancers: Vec<Value> = routes
        .iter()
        .map(|r| (r.port.name.clone(), r.port.port))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|(name, port)| json!({ "ContainerName": s.name, "ContainerPort": port, "TargetGroupArn": r(&format!("{id}{}TargetGroup", logical(&name))) }))
        .collect();
    let mut props = json!({
        "Cluster": r("Cluster"),
        "ServiceName": s.name,
        "TaskDefinition": r(&format!("{id}TaskDefinition")),
        "DesiredCount": desired,
        "LaunchType": "FARGATE",
        "DeploymentConfiguration": { "MinimumHealthyPercent": 100, "MaximumPercent": 200, "DeploymentCircuitBreaker": { "Enable": true, "Rollback": s.deploy.auto_rollback } },
        "NetworkConfiguration": { "AwsvpcConfiguration": { "Subnets": r("Subnets"), "SecurityGroups": [get_att(&format!("{id}SecurityGroup"), "GroupId")], "AssignPublicIp": "DISABLED" } },
        "PropagateTags": "SERVICE",
    });
    let mut service = json!({ "Type": "AWS::ECS::Service", "Properties": {} });
    if !load_balancers.is_empty() {
        props["LoadBalancers"] = Value::Array(load_balancers);
        props["HealthCheckGracePeriodSeconds"] = json!(s.deploy.health_timeout.as_secs().min(7200));
        // A target group must belong to a listener before a service registers in it.
        let listener =
            if plan.edge.as_ref().is_some_and(|e| e.tls.is_some()) { "HttpsListener" } else { "HttpListener" };
        service["DependsOn"] = json!([listener]);
    }
    service["Properties"] = props;
    resources.insert(format!("{id}Service"), service);
    if let Replicas::Autoscaled { min, max, cpu, memory, metric } = &s.replicas {
        resources.insert(
            format!("{id}ScalableTarget"),
            json!({
                "Type": "AWS::ApplicationAutoScaling::ScalableTarget",
                "Properties": {
                    "MinCapacity": min,
                    "MaxCapacity": max,
                    "ResourceId": { "Fn::Sub": format!("service/${{Cluster}}/${{{id}Service.Name}}") },
                    "ScalableDimension": "ecs:service:DesiredCount",
                    "ServiceNamespace": "ecs",
                }
            }),
        );
        for (kind, target, predefined) in
            [("Cpu", cpu, "ECSServiceAverageCPUUtilization"), ("Memory", memory, "ECSServiceAverageMemoryUtilization")]
        {
            if let Some(t) = target {
                resources.insert(
                    format!("{id}{kind}Scaling"),
                    json!({
                        "Type": "AWS::ApplicationAutoScaling::ScalingPolicy",
                        "Properties": {
                            "PolicyName": format!("{}-{}-{}", plan.project, s.name, kind.to_lowercase()),
                            "PolicyType": "TargetTrackingScaling",
                            "ScalingTargetId": r(&format!("{id}ScalableTarget")),
                            "TargetTrackingScalingPolicyConfiguration": { "TargetValue": t.0, "PredefinedMetricSpecification": { "PredefinedMetricType": predefined } },
                        }
                    }),
                );
            }
        }
        if metric.is_some() {
            out.unsupported(
                Target::Cloudformation,
                format!("autoscaling `{}` on a custom metric", s.name),
                "publish it to CloudWatch and add a target-tracking policy on it; CPU and memory targets are rendered",
            );
        }
    }
}

/// The ALB's idle timeout: long enough for the longest route (a WebSocket
/// or a slow report), at most the 4000 s an ALB allows.
fn alb_idle_timeout(edge: &berth_plan::EdgePlan, out: &mut Output) -> u64 {
    let secs = |d: berth_spec::model::units::Duration| u64::try_from(d.as_millis().div_ceil(1000)).unwrap_or(u64::MAX);
    let longest = edge.routes.iter().map(|r| secs(r.timeout)).chain([secs(edge.timeouts.idle)]).max().unwrap_or(60);
    if longest > 4000 {
        let routes: Vec<&str> =
            edge.routes.iter().filter(|r| secs(r.timeout) > 4000).map(|r| r.path.as_str()).collect();
        out.unsupported(
            Target::Cloudformation,
            format!(
                "a timeout of {longest} s on {} (an ALB's idle timeout is at most 4000 s; rendered 4000)",
                routes.join(", ")
            ),
            "keep the connection busy (WebSocket pings) or shorten the route's `timeout`",
        );
    }
    longest.clamp(1, 4000)
}

/// How long the ALB keeps sending a stopping task's open requests: the
/// service's drain, at most the 3600 s a target group allows.
fn deregistration_delay(service: Option<&ServicePlan>, out: &mut Output) -> u64 {
    let Some(s) = service else { return 30 };
    let drain = s.deploy.drain_timeout.as_secs();
    if drain > 3600 {
        out.unsupported(
            Target::Cloudformation,
            format!(
                "the drain of `{}` ({drain} s; a target group's deregistration delay is at most 3600 s; rendered 3600)",
                s.name
            ),
            "shorten `deploy.drain_timeout`",
        );
    }
    drain.min(3600)
}

/// The listener's TLS policy: TLS 1.3 only when the spec's minimum is 1.3.
fn ssl_policy(edge: &berth_plan::EdgePlan) -> &'static str {
    match edge.tls.as_ref().map(|t| t.min_version) {
        Some(berth_spec::TlsVersion::V1_3) => "ELBSecurityPolicy-TLS13-1-3-2021-06",
        _ => "ELBSecurityPolicy-TLS13-1-2-2021-06",
    }
}

/// Days of automated RDS backups covering what the spec keeps: the daily,
/// weekly and monthly copies reach back this far. RDS keeps at most 35.
fn retention_days(d: &DependencyPlan, out: &mut Output) -> u32 {
    let Some(job) = &d.backup else { return 7 };
    let r = &job.retain;
    let days = r.daily.max(r.weekly * 7).max(r.monthly * 30).max(1);
    if days > 35 {
        out.unsupported(
            Target::Cloudformation,
            format!(
                "keeping `{}`'s backups for {days} days (RDS automated backups keep at most 35; rendered 35)",
                d.name
            ),
            "older copies need AWS Backup or berth's own backups (`berth backup`, which this stack does not schedule)",
        );
    }
    days.min(35)
}

const GIB: u64 = 1 << 30;

/// The memory the dependency asks for: its limit, else its request.
fn asked_memory(d: &DependencyPlan) -> Option<u64> {
    d.resources
        .limits
        .as_ref()
        .and_then(|l| l.memory)
        .or(d.resources.requests.as_ref().and_then(|r| r.memory))
        .map(|m| m.0)
}

/// The smallest class of `classes` (name, memory) that has `want` bytes.
fn smallest_fitting(classes: &[(&'static str, u64)], want: u64) -> Option<&'static str> {
    classes.iter().find(|(_, memory)| *memory >= want).map(|(name, _)| *name)
}

/// The RDS instance class whose memory fits the dependency's memory and
/// its `shared_buffers` (with room for the rest of PostgreSQL).
fn db_class(d: &DependencyPlan, out: &mut Output) -> &'static str {
    const CLASSES: &[(&str, u64)] = &[
        ("db.t4g.micro", GIB),
        ("db.t4g.small", 2 * GIB),
        ("db.t4g.medium", 4 * GIB),
        ("db.t4g.large", 8 * GIB),
        ("db.r6g.large", 16 * GIB),
        ("db.r6g.xlarge", 32 * GIB),
        ("db.r6g.2xlarge", 64 * GIB),
        ("db.r6g.4xlarge", 128 * GIB),
        ("db.r6g.8xlarge", 256 * GIB),
        ("db.r6g.12xlarge", 384 * GIB),
        ("db.r6g.16xlarge", 512 * GIB),
    ];
    let buffers = d
        .settings
        .get("shared_buffers")
        .and_then(|v| {
            berth_spec::model::units::ByteSize::parse(&v.replace("MB", "Mi").replace("GB", "Gi").replace("kB", "Ki"))
                .ok()
        })
        .map(|b| b.0);
    // shared_buffers is about a quarter of memory on a well-sized server.
    let want = asked_memory(d).unwrap_or(4 * GIB).max(buffers.map_or(0, |b| b.saturating_mul(4)));
    smallest_fitting(CLASSES, want).unwrap_or_else(|| {
        out.unsupported(
            Target::Cloudformation,
            format!("{} GiB of memory for `{}` (the largest RDS class rendered has 512 GiB)", want / GIB, d.name),
            "pick the instance class by hand, or lower the memory and shared_buffers",
        );
        "db.r6g.16xlarge"
    })
}

/// The ElastiCache node type whose memory holds `maxmemory` (or the
/// dependency's memory).
fn cache_node(d: &DependencyPlan, out: &mut Output) -> &'static str {
    const NODES: &[(&str, u64)] = &[
        ("cache.t4g.micro", GIB / 2),
        ("cache.t4g.small", 1_470_000_000),
        ("cache.t4g.medium", 3_310_000_000),
        ("cache.r6g.large", 14_030_000_000),
        ("cache.r6g.xlarge", 28_260_000_000),
        ("cache.r6g.2xlarge", 56_710_000_000),
        ("cache.r6g.4xlarge", 113_620_000_000),
    ];
    let want = d.maxmemory.map(|m| m.0).or_else(|| asked_memory(d)).unwrap_or(GIB);
    smallest_fitting(NODES, want).unwrap_or_else(|| {
        out.unsupported(
            Target::Cloudformation,
            format!(
                "{} GiB of memory for `{}` (the largest ElastiCache node rendered has 105 GiB)",
                want / GIB,
                d.name
            ),
            "pick the node type by hand, or shard the cache",
        );
        "cache.r6g.4xlarge"
    })
}
