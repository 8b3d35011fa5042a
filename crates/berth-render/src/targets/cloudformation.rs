//! The AWS stack around the ECS services: an application load balancer with
//! HTTPS, target groups health-checked on the readiness path, listener rules
//! per route, security groups that open exactly the needed ports, ECS
//! services with circuit-breaker rollback and autoscaling, and RDS /
//! ElastiCache for the dependencies. Passwords are dynamic references
//! (`{{resolve:...}}`), never values.
//!
//! With `gateway: true` the ALB forwards everything to berth's own edge, an
//! ECS service of its own; the edge reaches the services by Cloud Map DNS,
//! and their security groups admit the edge alone, so no request reaches a
//! service around the route features the edge enforces.

use berth_plan::{DependencyPlan, EdgePlan, Plan, ProbeCheck, Replicas, RoutePlan, ServicePlan};
use berth_spec::model::units::ByteSize;
use berth_spec::{DependencyKind, StorageType};
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

/// The ECS service discovery domain the gateway finds services under.
fn discovery_domain(plan: &Plan) -> String {
    format!("{}.internal", plan.project)
}

fn gateway(plan: &Plan) -> bool {
    plan.edge.is_some() && plan.targets.cloudformation.as_ref().is_some_and(|c| c.gateway)
}

pub fn render(plan: &Plan, spec_text: &str) -> Output {
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
    if gateway(plan) {
        parameters.insert("VpcCidr".to_owned(), json!({ "Type": "String", "Description": "The VPC's IPv4 CIDR block: the load balancer's addresses, whose X-Forwarded-For and X-Forwarded-Proto berth's edge believes", "AllowedPattern": "^[0-9]{1,3}(\\.[0-9]{1,3}){3}/[0-9]{1,2}$" }));
    }
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
        if gateway(plan) {
            edge_gateway(plan, edge, tls, spec_text, &mut resources, &mut out);
        } else {
            listeners(plan, edge, tls, &mut resources, &mut out);
        }
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
    // Read replicas' endpoints, for the read-only queries that use them.
    for (id, resource) in &resources {
        if resource["Properties"].get("SourceDBInstanceIdentifier").is_some() {
            outputs.insert(
                format!("{id}Endpoint"),
                json!({ "Description": format!("Read replica {id} (read-only)"), "Value": get_att(id, "Endpoint.Address") }),
            );
        }
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

/// Target groups one ALB forward action may weigh.
const ALB_MAX_TARGET_GROUPS: usize = 5;

fn listeners(plan: &Plan, edge: &EdgePlan, tls: bool, resources: &mut Map<String, Value>, out: &mut Output) {
    let mut groups: Vec<(String, String)> = Vec::new();
    for share in edge.routes.iter().flat_map(|r| r.shares()) {
        let id = format!("{}{}TargetGroup", logical(share.service), logical(&share.port.name));
        if groups.iter().any(|(g, _)| *g == id) {
            continue;
        }
        groups.push((id.clone(), share.service.to_owned()));
        let service = plan.services.iter().find(|s| s.name == share.service);
        let readiness = service.and_then(|s| s.probes.readiness.as_ref());
        let mut props = json!({
            "TargetType": "ip",
            "Protocol": "HTTP",
            "Port": share.port.port,
            "VpcId": r("VpcId"),
            "Matcher": { "HttpCode": "200-399" },
            "TargetGroupAttributes": [{ "Key": "deregistration_delay.timeout_seconds", "Value": deregistration_delay(service, out).to_string() }],
        });
        if let Some(p) = readiness {
            if let ProbeCheck::Http { path, .. } = &p.check {
                props["HealthCheckPath"] = json!(path);
            }
            let interval = p.interval.as_secs().clamp(5, 300);
            let timeout = p.timeout.as_secs().clamp(2, 120).min(interval - 1);
            let unhealthy = p.failure_threshold.clamp(2, 10);
            let healthy = p.success_threshold.clamp(2, 10);
            // The target group's own bounds; a readiness check outside them is named.
            let asked = (p.interval.as_secs(), p.timeout.as_secs(), p.failure_threshold, p.success_threshold);
            if asked != (interval, timeout, unhealthy, healthy) {
                out.unsupported(
                    Target::Cloudformation,
                    format!(
                        "the readiness check of `{}` exactly (interval {}s, timeout {}s, {} failures, {} successes; a target group allows 5-300 s, 2-120 s below the interval, 2-10 and 2-10; rendered {interval}s, {timeout}s, {unhealthy}, {healthy})",
                        share.service, asked.0, asked.1, asked.2, asked.3
                    ),
                    "choose readiness settings within the target group's bounds",
                );
            }
            props["HealthCheckIntervalSeconds"] = json!(interval);
            props["HealthCheckTimeoutSeconds"] = json!(timeout);
            props["UnhealthyThresholdCount"] = json!(unhealthy);
            props["HealthyThresholdCount"] = json!(healthy);
        }
        resources.insert(id, json!({ "Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": props }));
    }
    let not_found = json!([{ "Type": "fixed-response", "FixedResponseConfig": { "StatusCode": "404", "ContentType": "text/plain", "MessageBody": "not found" } }]);
    let routing_listener = if tls { "HttpsListener" } else { "HttpListener" };
    if tls {
        resources.insert("HttpListener".to_owned(), http_listener(redirect_to_https()));
        resources.insert("HttpsListener".to_owned(), https_listener(edge, not_found));
    } else {
        resources.insert("HttpListener".to_owned(), http_listener(not_found));
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
        let group = |share: &berth_plan::RouteShare<'_>| {
            r(&format!("{}{}TargetGroup", logical(share.service), logical(&share.port.name)))
        };
        // A split forwards to weighted target groups (the ALB's weights are
        // relative, 0 to 999: whole percents carry exactly), at most five.
        let carried = route.split.len() < ALB_MAX_TARGET_GROUPS;
        if !carried {
            out.unsupported(
                Target::Cloudformation,
                format!("the split of route `{}` to {} services", route.path, route.split.len()),
                format!("an ALB rule forwards to at most {ALB_MAX_TARGET_GROUPS} target groups; the route's own service gets every request here"),
            );
        }
        let action = if route.split.is_empty() || !carried {
            json!({ "Type": "forward", "TargetGroupArn": route.shares().next().map(|s| group(&s)) })
        } else {
            let groups: Vec<Value> = route
                .shares()
                .map(|share| json!({ "TargetGroupArn": group(&share), "Weight": share.weight }))
                .collect();
            json!({ "Type": "forward", "ForwardConfig": { "TargetGroups": groups } })
        };
        resources.insert(
            format!("Route{i}Rule"),
            json!({ "Type": "AWS::ElasticLoadBalancingV2::ListenerRule", "Properties": { "ListenerArn": r(routing_listener), "Priority": i + 1, "Conditions": conditions, "Actions": [action] } }),
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
    let managed = d.managed.clone().unwrap_or_default();
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
            let class = db_class(d, managed.instance_class.as_deref(), out);
            let storage_type = managed.storage_type.unwrap_or(StorageType::Gp3);
            let storage_gib = allocated_storage(d, storage_type, out);
            let mut props = json!({
                "Engine": "postgres",
                "EngineVersion": version,
                "AutoMinorVersionUpgrade": true,
                "DBInstanceClass": class,
                "AllocatedStorage": storage_gib.to_string(),
                "StorageType": storage_type.as_str(),
                "StorageEncrypted": true,
                "DBName": d.database.clone().unwrap_or_default().replace('-', "_"),
                "MasterUsername": d.user.clone().unwrap_or_default().replace('-', "_"),
                "DBSubnetGroupName": r(&format!("{id}SubnetGroup")),
                "VPCSecurityGroups": [get_att(&format!("{id}SecurityGroup"), "GroupId")],
                "PubliclyAccessible": false,
                "DeletionProtection": true,
                "EnablePerformanceInsights": true,
                "CopyTagsToSnapshot": true,
            });
            // Without a backup in the spec RDS keeps its default (1 day of
            // point-in-time recovery); 0 would turn backups off, which the
            // spec never said.
            if d.backup.is_some() {
                props["BackupRetentionPeriod"] = json!(retention_days(d, "RDS", out));
            }
            if let Some(iops) = managed.iops {
                // Under 400 GiB, RDS for PostgreSQL gives gp3 a fixed 3000 IOPS and refuses a setting.
                if storage_type == StorageType::Gp3 && storage_gib < 400 {
                    out.unsupported(
                        Target::Cloudformation,
                        format!(
                            "the iops {iops} of `{}` (RDS gp3 storage under 400 GiB has a fixed 3000 IOPS; rendered \
                             {storage_gib} GiB without Iops)",
                            d.name
                        ),
                        "raise `storage` to 400Gi or more, or use `storage_type: io2`",
                    );
                } else {
                    props["Iops"] = json!(iops);
                }
            }
            if let Some(multi_az) = managed.multi_az {
                props["MultiAZ"] = json!(multi_az);
            }
            match &d.password_secret {
                Some(secret) => props["MasterUserPassword"] = json!(resolve(plan, secret)),
                None => props["ManageMasterUserPassword"] = json!(true),
            }
            if !d.settings.is_empty() {
                let parameters = rds_parameters(&d.settings);
                resources.insert(
                    format!("{id}Parameters"),
                    json!({ "Type": "AWS::RDS::DBParameterGroup", "Properties": { "Description": format!("{} {} settings", plan.project, d.name), "Family": format!("postgres{major}"), "Parameters": parameters } }),
                );
                props["DBParameterGroupName"] = r(&format!("{id}Parameters"));
            }
            // Read replicas: same class and parameters, storage and
            // network from the source; a replica has no backups of its own.
            for n in 1..=managed.read_replicas.unwrap_or(0) {
                let mut replica = json!({
                    "SourceDBInstanceIdentifier": r(&id),
                    "DBInstanceClass": props["DBInstanceClass"].clone(),
                    "VPCSecurityGroups": props["VPCSecurityGroups"].clone(),
                    "PubliclyAccessible": false,
                    "AutoMinorVersionUpgrade": true,
                    "EnablePerformanceInsights": true,
                    "CopyTagsToSnapshot": true,
                });
                if let Some(group) = props.get("DBParameterGroupName") {
                    replica["DBParameterGroupName"] = group.clone();
                }
                resources.insert(
                    format!("{id}Replica{n}"),
                    json!({ "Type": "AWS::RDS::DBInstance", "Properties": replica }),
                );
            }
            resources.insert(id, json!({ "Type": "AWS::RDS::DBInstance", "DeletionPolicy": "Snapshot", "UpdateReplacePolicy": "Snapshot", "Properties": props }));
        }
        DependencyKind::Redis => {
            resources.insert(format!("{id}SubnetGroup"), json!({ "Type": "AWS::ElastiCache::SubnetGroup", "Properties": { "Description": format!("{} {}", plan.project, d.name), "SubnetIds": r("Subnets") } }));
            let nodes = managed.nodes.unwrap_or(1);
            let mut props = json!({
                "ReplicationGroupDescription": format!("{} {}", plan.project, d.name),
                "Engine": "redis",
                "CacheNodeType": cache_node(d, managed.node_type.as_deref(), out),
                "NumCacheClusters": nodes,
                // Replicas only help when one takes over from a failed primary.
                "AutomaticFailoverEnabled": nodes > 1,
                "MultiAZEnabled": nodes > 1,
                "TransitEncryptionEnabled": true,
                "AtRestEncryptionEnabled": true,
                "CacheSubnetGroupName": r(&format!("{id}SubnetGroup")),
                "SecurityGroupIds": [get_att(&format!("{id}SecurityGroup"), "GroupId")],
                "SnapshotRetentionLimit": retention_days(d, "ElastiCache", out),
            });
            if let Some(secret) = &d.password_secret {
                props["AuthToken"] = json!(resolve(plan, secret));
            }
            // ElastiCache's default parameter group evicts (volatile-lru);
            // the spec's policy (noeviction unless it says otherwise) needs
            // a group of its own.
            if let Some(policy) = d.redis_directives().into_iter().find(|(k, _)| k == "maxmemory-policy") {
                let major: u32 = d.version.split('.').next().and_then(|m| m.parse().ok()).unwrap_or(7);
                let family = if major >= 7 { "redis7".to_owned() } else { format!("redis{major}.x") };
                // ElastiCache names versions `7.1`, never a bare major.
                if d.version.contains('.') {
                    props["EngineVersion"] = json!(d.version);
                }
                resources.insert(
                    format!("{id}Parameters"),
                    json!({ "Type": "AWS::ElastiCache::ParameterGroup", "Properties": { "Description": format!("{} {} settings", plan.project, d.name), "CacheParameterGroupFamily": family, "Properties": { "maxmemory-policy": policy.1 } } }),
                );
                props["CacheParameterGroupName"] = r(&format!("{id}Parameters"));
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
    // The ports routes send to (a split's share included), by name; with
    // berth's edge in front, a route's fallback too (the ALB has none).
    let with_gateway = gateway(plan);
    let routes: Vec<(String, u16)> = plan
        .edge
        .iter()
        .flat_map(|e| e.routes.iter())
        .flat_map(|r| {
            let fallback = r.fallback.iter().filter(|_| with_gateway).map(|(service, port)| (service.as_str(), port));
            r.shares().map(|share| (share.service, share.port)).chain(fallback).collect::<Vec<_>>()
        })
        .filter(|(service, _)| *service == s.name)
        .map(|(_, port)| (port.name.clone(), port.port))
        .collect();
    let mut ports: Vec<u16> = routes.iter().map(|(_, port)| *port).collect();
    ports.sort_unstable();
    ports.dedup();
    let (front, front_name) = if gateway(plan) {
        ("EdgeSecurityGroup", "from berth's edge")
    } else {
        ("LoadBalancerSecurityGroup", "from the load balancer")
    };
    let ingress: Vec<Value> = ports
        .iter()
        .map(|p| json!({ "IpProtocol": "tcp", "FromPort": p, "ToPort": p, "SourceSecurityGroupId": get_att(front, "GroupId"), "Description": front_name }))
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
    let (cpu, memory) = task_size(plan, s, Target::Cloudformation, out);
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
        .cloned()
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
    if gateway(plan) && !routes.is_empty() {
        // The edge finds the tasks by name; no target group, no ALB rule.
        resources.insert(
            format!("{id}Discovery"),
            json!({
                "Type": "AWS::ServiceDiscovery::Service",
                "Properties": {
                    "Name": s.name,
                    "NamespaceId": r("DiscoveryNamespace"),
                    "DnsConfig": { "DnsRecords": [{ "Type": "A", "TTL": DISCOVERY_TTL }], "RoutingPolicy": "MULTIVALUE" },
                    "HealthCheckCustomConfig": { "FailureThreshold": 1 },
                }
            }),
        );
        props["ServiceRegistries"] = json!([{ "RegistryArn": get_att(&format!("{id}Discovery"), "Arn") }]);
    } else if !load_balancers.is_empty() {
        props["LoadBalancers"] = Value::Array(load_balancers);
        props["HealthCheckGracePeriodSeconds"] = json!(health_check_grace(s, out));
        // A target group must belong to a listener before a service registers in it.
        let listener =
            if plan.edge.as_ref().is_some_and(|e| e.tls.is_some()) { "HttpsListener" } else { "HttpListener" };
        service["DependsOn"] = json!([listener]);
    }
    service["Properties"] = props;
    resources.insert(format!("{id}Service"), service);
    if let Replicas::Autoscaled { min, max, cpu, memory, metric, scale_up, scale_down } = &s.replicas {
        // Target tracking has cooldowns, not windows and step limits: the
        // stabilization windows become them (support table: approximated).
        let cooldown =
            |pace: &Option<berth_spec::ScalingPace>| pace.and_then(|p| p.stabilization).map(|d| d.ceil_secs());
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
                            "TargetTrackingScalingPolicyConfiguration": tracking(t.0, predefined, cooldown(scale_up), cooldown(scale_down)),
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

/// Seconds a task's DNS record is cached: with the edge's re-resolving
/// every 5 s, how long a stopped task can still be picked.
const DISCOVERY_TTL: u32 = 10;

/// Seconds the gateway's tasks get to finish requests: the ALB waits this
/// long before ECS stops one, then `berth edge --drain` gives as much again.
const GATEWAY_DRAIN: u64 = 30;

/// berth's edge as an ECS service: the ALB's one target, the services'
/// only client. TLS ends at the ALB (its certificate is in ACM), so the edge
/// serves HTTP and believes the ALB's forwarded headers, from the VPC only.
fn edge_gateway(
    plan: &Plan,
    edge: &EdgePlan,
    tls: bool,
    spec_text: &str,
    resources: &mut Map<String, Value>,
    out: &mut Output,
) {
    let project = &plan.project;
    let http = edge.listen.http;
    let admin = edge.listen.admin;
    resources.insert(
        "DiscoveryNamespace".to_owned(),
        json!({ "Type": "AWS::ServiceDiscovery::PrivateDnsNamespace", "Properties": { "Name": discovery_domain(plan), "Vpc": r("VpcId"), "Description": format!("{project}: services as berth's edge finds them") } }),
    );
    resources.insert(
        "EdgeSecurityGroup".to_owned(),
        json!({ "Type": "AWS::EC2::SecurityGroup", "Properties": { "GroupDescription": format!("{project} berth edge"), "VpcId": r("VpcId"), "SecurityGroupIngress": [
            { "IpProtocol": "tcp", "FromPort": http, "ToPort": http, "SourceSecurityGroupId": get_att("LoadBalancerSecurityGroup", "GroupId"), "Description": "from the load balancer" },
            { "IpProtocol": "tcp", "FromPort": admin, "ToPort": admin, "SourceSecurityGroupId": get_att("LoadBalancerSecurityGroup", "GroupId"), "Description": "health checks from the load balancer" },
        ] } }),
    );
    resources.insert(
        "EdgeTargetGroup".to_owned(),
        json!({ "Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": {
            "TargetType": "ip",
            "Protocol": "HTTP",
            "Port": http,
            "VpcId": r("VpcId"),
            "HealthCheckPort": admin.to_string(),
            "HealthCheckPath": "/health",
            "HealthCheckIntervalSeconds": 10,
            "HealthCheckTimeoutSeconds": 5,
            "HealthyThresholdCount": 2,
            "UnhealthyThresholdCount": 2,
            "Matcher": { "HttpCode": "200" },
            "TargetGroupAttributes": [{ "Key": "deregistration_delay.timeout_seconds", "Value": GATEWAY_DRAIN.to_string() }],
        } }),
    );
    let forward = json!([{ "Type": "forward", "TargetGroupArn": r("EdgeTargetGroup") }]);
    if tls {
        // The ALB redirects as the edge would; with `redirect_https: false`
        // plain HTTP reaches the edge, which serves it as the spec says.
        let plain = if edge.redirect_https { redirect_to_https() } else { forward.clone() };
        resources.insert("HttpListener".to_owned(), http_listener(plain));
        resources.insert("HttpsListener".to_owned(), https_listener(edge, forward));
    } else {
        resources.insert("HttpListener".to_owned(), http_listener(forward));
    }
    // With `--tls-offloaded` the edge still knows HTTP from HTTPS by the
    // ALB's X-Forwarded-Proto (HSTS only on HTTPS, its own redirect when
    // plain HTTP reaches it).
    let mut command: Vec<Value> = ["edge", "--spec-env", "BERTH_SPEC", "--domain"].iter().map(|a| json!(a)).collect();
    command.push(json!(discovery_domain(plan)));
    if let Some(env) = &plan.environment {
        command.extend([json!("--env"), json!(env)]);
    }
    command.extend([
        json!("--bind"),
        json!("0.0.0.0"),
        json!("--admin"),
        json!(format!("0.0.0.0:{admin}")),
        json!("--drain"),
        json!(GATEWAY_DRAIN.to_string()),
        json!("--trusted-proxy"),
        r("VpcCidr"),
    ]);
    if tls {
        command.push(json!("--tls-offloaded"));
    }
    let mut secrets = Vec::new();
    for secret in plan.secrets.iter().filter(|s| s.used_by.iter().any(|u| u == "edge")) {
        if secret.file.is_some() {
            out.unsupported(
                Target::Cloudformation,
                format!("the file of secret `{}` in berth's edge", secret.name),
                "the edge's task reads secrets from its environment; drop `file:` so the secret reaches it as a variable",
            );
        }
        let var = secret.env.clone().unwrap_or_else(|| berth_plan::secret_env_name(&secret.name));
        secrets.push(json!({ "Name": var, "ValueFrom": secret_source(plan, &secret.name) }));
    }
    if edge.auth.as_ref().and_then(|a| a.jwt.as_ref()).is_some_and(|j| j.public_key.is_some()) {
        out.unsupported(
            Target::Cloudformation,
            "the JWT public key file in berth's edge",
            "the edge's task gets the spec in a variable and no files; give the key as a JWKS URL or build it into an image FROM berth's",
        );
    }
    let mut container = json!({
        "Name": "edge",
        "Image": crate::BERTH_IMAGE,
        "Essential": true,
        "Command": command,
        "Environment": [{ "Name": "BERTH_SPEC", "Value": spec_text }],
        "PortMappings": [
            { "Name": "http", "ContainerPort": http, "Protocol": "tcp" },
            { "Name": "admin", "ContainerPort": admin, "Protocol": "tcp" },
        ],
        "HealthCheck": { "Command": ["CMD", "curl", "-fsS", "-o", "/dev/null", format!("http://127.0.0.1:{admin}/health")], "Interval": 10, "Timeout": 5, "Retries": 3, "StartPeriod": 10 },
        "LogConfiguration": { "LogDriver": "awslogs", "Options": { "awslogs-group": r("LogGroup"), "awslogs-region": { "Ref": "AWS::Region" }, "awslogs-stream-prefix": "edge" } },
        "ReadonlyRootFilesystem": true,
        "User": "10001",
        "LinuxParameters": { "Capabilities": { "Drop": ["ALL"] }, "InitProcessEnabled": true },
        "Ulimits": [{ "Name": "nofile", "SoftLimit": 65536, "HardLimit": 65536 }],
        "StopTimeout": GATEWAY_DRAIN + 5,
    });
    if !secrets.is_empty() {
        container["Secrets"] = Value::Array(secrets);
    }
    if http < 1024 || admin < 1024 {
        // The edge runs as a user; Fargate lets the task lower this one sysctl.
        container["SystemControls"] = json!([{ "Namespace": "net.ipv4.ip_unprivileged_port_start", "Value": "0" }]);
    }
    resources.insert(
        "EdgeTaskDefinition".to_owned(),
        json!({
            "Type": "AWS::ECS::TaskDefinition",
            "Properties": {
                "Family": format!("{project}-edge"),
                "Cpu": "512",
                "Memory": "1024",
                "NetworkMode": "awsvpc",
                "RequiresCompatibilities": ["FARGATE"],
                "RuntimePlatform": { "OperatingSystemFamily": "LINUX", "CpuArchitecture": "X86_64" },
                "ExecutionRoleArn": get_att("ExecutionRole", "Arn"),
                "ContainerDefinitions": [container],
            }
        }),
    );
    let listener = if tls { "HttpsListener" } else { "HttpListener" };
    resources.insert(
        "EdgeService".to_owned(),
        json!({
            "Type": "AWS::ECS::Service",
            "DependsOn": [listener],
            "Properties": {
                "Cluster": r("Cluster"),
                "ServiceName": "edge",
                "TaskDefinition": r("EdgeTaskDefinition"),
                "DesiredCount": 2,
                "LaunchType": "FARGATE",
                "DeploymentConfiguration": { "MinimumHealthyPercent": 100, "MaximumPercent": 200, "DeploymentCircuitBreaker": { "Enable": true, "Rollback": true } },
                "NetworkConfiguration": { "AwsvpcConfiguration": { "Subnets": r("Subnets"), "SecurityGroups": [get_att("EdgeSecurityGroup", "GroupId")], "AssignPublicIp": "DISABLED" } },
                "LoadBalancers": [{ "ContainerName": "edge", "ContainerPort": http, "TargetGroupArn": r("EdgeTargetGroup") }],
                "HealthCheckGracePeriodSeconds": 30,
                "PropagateTags": "SERVICE",
            }
        }),
    );
}

/// The load balancer's port-80 listener, doing `actions`.
fn http_listener(actions: Value) -> Value {
    json!({ "Type": "AWS::ElasticLoadBalancingV2::Listener", "Properties": { "LoadBalancerArn": r("LoadBalancer"), "Port": 80, "Protocol": "HTTP", "DefaultActions": actions } })
}

/// The load balancer's port-443 listener with the stack's certificate and
/// the spec's TLS minimum, doing `actions`.
fn https_listener(edge: &EdgePlan, actions: Value) -> Value {
    json!({ "Type": "AWS::ElasticLoadBalancingV2::Listener", "Properties": { "LoadBalancerArn": r("LoadBalancer"), "Port": 443, "Protocol": "HTTPS", "SslPolicy": ssl_policy(edge), "Certificates": [{ "CertificateArn": r("CertificateArn") }], "DefaultActions": actions } })
}

fn redirect_to_https() -> Value {
    json!([{ "Type": "redirect", "RedirectConfig": { "Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301" } }])
}

/// An ALB's idle timeout, in seconds.
const MAX_ALB_IDLE: u64 = 4000;

/// A target group's deregistration delay, in seconds.
const MAX_DEREGISTRATION_DELAY: u64 = 3600;

/// Days RDS and ElastiCache keep automated backups.
const MAX_RETENTION_DAYS: u32 = 35;

const GIB: u64 = 1 << 30;

/// A route as the spec names it: its host and path.
fn route_name(r: &RoutePlan) -> String {
    format!("{}{}", r.host.as_deref().unwrap_or_default(), r.path)
}

/// The ALB's idle timeout: one for the whole load balancer, so at least the
/// longest route timeout (WebSocket routes included) and the edge's idle
/// timeout, or the ALB cuts what the spec allows; at most 4000 s.
fn alb_idle_timeout(edge: &EdgePlan, out: &mut Output) -> u64 {
    let idle = edge.timeouts.idle.ceil_secs();
    let needed = edge.routes.iter().map(|r| r.timeout.ceil_secs()).fold(idle, u64::max);
    if needed > MAX_ALB_IDLE {
        let mut cut: Vec<String> = edge
            .routes
            .iter()
            .filter(|r| r.timeout.ceil_secs() > MAX_ALB_IDLE)
            .map(|r| format!("route `{}` timeout {}", route_name(r), r.timeout))
            .collect();
        if idle > MAX_ALB_IDLE {
            cut.push(format!("the edge's idle timeout {}", edge.timeouts.idle));
        }
        out.unsupported(
            Target::Cloudformation,
            format!(
                "{} (an ALB's idle timeout is at most {MAX_ALB_IDLE} s; rendered {MAX_ALB_IDLE} s)",
                cut.join(", ")
            ),
            "the load balancer closes a connection idle that long: a slower response or a quiet WebSocket is cut; \
             send data (WebSocket pings) more often than that",
        );
    }
    needed.clamp(1, MAX_ALB_IDLE)
}

/// The most seconds berth gives an ECS service's health check grace period.
const MAX_HEALTH_CHECK_GRACE: u64 = 7200;

/// The ECS service's health check grace period: the deploy's
/// `health_timeout` in whole seconds (rounded down: the load balancer's
/// checks start counting sooner, never later), at most
/// [`MAX_HEALTH_CHECK_GRACE`]; a value this changes is named.
fn health_check_grace(s: &ServicePlan, out: &mut Output) -> u64 {
    let timeout = s.deploy.health_timeout;
    let grace = timeout.as_secs().min(MAX_HEALTH_CHECK_GRACE);
    if grace != timeout.as_secs() || timeout.0.subsec_nanos() != 0 {
        out.unsupported(
            Target::Cloudformation,
            format!(
                "the health_timeout {timeout} of `{}` exactly (the ECS service's health check grace period is whole \
                 seconds, at most {MAX_HEALTH_CHECK_GRACE}; rendered {grace} s)",
                s.name
            ),
            "a new task whose checks still fail after that is replaced; make the service start faster",
        );
    }
    grace
}

/// How long the ALB lets a stopping task finish its requests before ECS
/// sends SIGTERM: the service's drain, at most 3600 s.
fn deregistration_delay(service: Option<&ServicePlan>, out: &mut Output) -> u64 {
    let Some(s) = service else { return 30 };
    let drain = s.deploy.drain_timeout.ceil_secs();
    if drain > MAX_DEREGISTRATION_DELAY {
        out.unsupported(
            Target::Cloudformation,
            format!(
                "the drain_timeout {} of `{}` (a target group's deregistration delay is at most \
                 {MAX_DEREGISTRATION_DELAY} s; rendered {MAX_DEREGISTRATION_DELAY} s)",
                s.deploy.drain_timeout, s.name
            ),
            "requests still open after that are cut",
        );
    }
    drain.min(MAX_DEREGISTRATION_DELAY)
}

/// The listener's TLS policy: TLS 1.3 only when the spec's minimum is 1.3.
fn ssl_policy(edge: &EdgePlan) -> &'static str {
    match edge.tls.as_ref().map(|t| t.min_version) {
        Some(berth_spec::TlsVersion::V1_3) => "ELBSecurityPolicy-TLS13-1-3-2021-06",
        _ => "ELBSecurityPolicy-TLS13-1-2-2021-06",
    }
}

/// Days of automated backups covering the spec's retention: N days, weeks
/// or months reach back N × 1, 7 or 30 days, so the oldest copy kept falls
/// within them. Without `backup` the spec keeps none, and 0 turns automated
/// backups off. `service` is RDS or ElastiCache, both at most 35 days.
fn retention_days(d: &DependencyPlan, service: &str, out: &mut Output) -> u32 {
    let Some(job) = &d.backup else { return 0 };
    let r = &job.retain;
    let days = r.daily.max(r.weekly.saturating_mul(7)).max(r.monthly.saturating_mul(30));
    if days > MAX_RETENTION_DAYS {
        let mut lost = Vec::new();
        for (count, kind, kept) in [
            (r.daily, "daily", MAX_RETENTION_DAYS),
            (r.weekly, "weekly", MAX_RETENTION_DAYS / 7),
            (r.monthly, "monthly", MAX_RETENTION_DAYS / 30),
        ] {
            if count > kept {
                lost.push(format!("{} of the {count} {kind} copies", count - kept));
            }
        }
        out.unsupported(
            Target::Cloudformation,
            format!(
                "keeping `{}`'s backups {days} days (daily {}, weekly {}, monthly {}) ({service} keeps automated \
                 backups at most {MAX_RETENTION_DAYS} days; rendered {MAX_RETENTION_DAYS}, which loses {})",
                d.name,
                r.daily,
                r.weekly,
                r.monthly,
                lost.join(" and ")
            ),
            "weekly and monthly retention beyond 35 days needs AWS Backup (a backup plan with weekly and monthly \
             rules on this resource) or berth's own backups (`berth backup` on a schedule, which this stack does \
             not run)",
        );
    }
    days.min(MAX_RETENTION_DAYS)
}

/// RDS classes berth picks from, smallest first: name, vCPUs, memory.
const DB_CLASSES: &[(&str, u64, u64)] = &[
    ("db.t4g.micro", 2, GIB),
    ("db.t4g.small", 2, 2 * GIB),
    ("db.t4g.medium", 2, 4 * GIB),
    ("db.t4g.large", 2, 8 * GIB),
    ("db.r6g.large", 2, 16 * GIB),
    ("db.r6g.xlarge", 4, 32 * GIB),
    ("db.r6g.2xlarge", 8, 64 * GIB),
    ("db.r6g.4xlarge", 16, 128 * GIB),
    ("db.r6g.8xlarge", 32, 256 * GIB),
    ("db.r6g.12xlarge", 48, 384 * GIB),
    ("db.r6g.16xlarge", 64, 512 * GIB),
];

/// ElastiCache node types berth picks from, smallest first: name, vCPUs,
/// memory (AWS's figures).
const CACHE_NODES: &[(&str, u64, u64)] = &[
    ("cache.t4g.micro", 2, GIB / 2),
    ("cache.t4g.small", 2, 1_470_000_000),
    ("cache.t4g.medium", 2, 3_310_000_000),
    ("cache.r6g.large", 2, 14_030_000_000),
    ("cache.r6g.xlarge", 4, 28_260_000_000),
    ("cache.r6g.2xlarge", 8, 56_710_000_000),
    ("cache.r6g.4xlarge", 16, 113_620_000_000),
    ("cache.r6g.8xlarge", 32, 225_000_000_000),
    ("cache.r6g.12xlarge", 48, 341_200_000_000),
    ("cache.r6g.16xlarge", 64, 449_990_000_000),
];

/// ElastiCache keeps this share of a node's memory from data by default
/// (`reserved-memory-percent`).
const CACHE_RESERVED_PERCENT: u64 = 25;

/// What a dependency asks for: its limits, else its requests (vCPUs
/// rounded up, memory in bytes).
fn asked(d: &DependencyPlan) -> (Option<u64>, Option<u64>) {
    let (limits, requests) = (d.resources.limits.as_ref(), d.resources.requests.as_ref());
    let cpu = limits.and_then(|l| l.cpu).or(requests.and_then(|r| r.cpu)).map(|c| c.0.div_ceil(1000));
    let memory = limits.and_then(|l| l.memory).or(requests.and_then(|r| r.memory)).map(|m| m.0);
    (cpu, memory)
}

/// The smallest of `table` with `cpus` vCPUs and `memory` bytes; past the
/// largest, the largest and a warning.
fn smallest(
    table: &[(&'static str, u64, u64)],
    cpus: u64,
    memory: u64,
    d: &DependencyPlan,
    out: &mut Output,
) -> &'static str {
    if let Some(&(name, _, _)) = table.iter().find(|(_, c, m)| *c >= cpus && *m >= memory) {
        return name;
    }
    let (name, c, m) = table[table.len() - 1];
    let cpus = if cpus > 0 { format!("{cpus} vCPUs and ") } else { String::new() };
    out.unsupported(
        Target::Cloudformation,
        format!(
            "{cpus}{} of memory for `{}` (the largest size berth picks, {name}, has {c} vCPUs and {}; rendered \
             {name})",
            ByteSize(memory),
            d.name,
            ByteSize(m)
        ),
        "name a larger one in `managed`",
    );
    name
}

/// The memory of an RDS instance class by its name: burstable `t` sizes by
/// table; `m`, `r` and `x` classes have 4, 8 and 16 GiB per vCPU, two vCPUs
/// in a `large` and 4N in an `Nxlarge`. None for other families.
fn db_class_memory(class: &str) -> Option<u64> {
    if let Some((_, _, m)) = DB_CLASSES.iter().find(|(name, _, _)| *name == class) {
        return Some(*m);
    }
    let mut parts = class.split('.').skip(1);
    let (family, size) = (parts.next()?, parts.next()?);
    if family.starts_with('t') {
        let gib = match size {
            "micro" => 1,
            "small" => 2,
            "medium" => 4,
            "large" => 8,
            "xlarge" => 16,
            "2xlarge" => 32,
            _ => return None,
        };
        return Some(gib * GIB);
    }
    let per_cpu = match family.chars().next()? {
        'm' => 4,
        'r' => 8,
        'x' => 16,
        _ => return None,
    };
    let cpus = match size {
        "large" => 2,
        "xlarge" => 4,
        _ => size.strip_suffix("xlarge")?.parse::<u64>().ok()? * 4,
    };
    Some(cpus * per_cpu * GIB)
}

/// A PostgreSQL memory setting in bytes: a number with `B`, `kB`, `MB`,
/// `GB` or `TB` (powers of 1024), or bare in units of `bare` bytes.
fn pg_bytes(value: &str, bare: u64) -> Option<u64> {
    let value = value.trim();
    let split = value.find(|c: char| !c.is_ascii_digit()).unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let factor = match unit.trim() {
        "" => bare,
        "B" => 1,
        "kB" => 1 << 10,
        "MB" => 1 << 20,
        "GB" => 1 << 30,
        "TB" => 1 << 40,
        _ => return None,
    };
    number.parse::<u64>().ok()?.checked_mul(factor)
}

/// The instance class: `managed.instance_class`, else the smallest that
/// fits the dependency's vCPUs and memory (`db.t4g.medium`'s 4 GiB when it
/// names no memory). `shared_buffers` must leave the server memory to run.
fn db_class(d: &DependencyPlan, named: Option<&str>, out: &mut Output) -> String {
    let (cpus, memory) = asked(d);
    let class = match named {
        Some(class) => class.to_owned(),
        None => smallest(DB_CLASSES, cpus.unwrap_or(0), memory.unwrap_or(4 * GIB), d, out).to_owned(),
    };
    let buffers = d.settings.get("shared_buffers");
    // A bare shared_buffers counts 8 kB pages.
    if let (Some(text), Some(bytes), Some(has)) =
        (buffers, buffers.and_then(|b| pg_bytes(b, 8 << 10)), db_class_memory(&class))
        && bytes >= has
    {
        out.unsupported(
            Target::Cloudformation,
            format!(
                "the shared_buffers {text} of `{}` ({class} has {} of memory; rendered {class}, where PostgreSQL \
                 does not start)",
                d.name,
                ByteSize(has)
            ),
            "name a class with several times that memory in `managed.instance_class`, or lower shared_buffers \
             (RDS's default is a quarter of the instance's memory)",
        );
    }
    class
}

/// The node type: `managed.node_type`, else the smallest whose memory holds
/// the dependency's memory and `maxmemory` plus ElastiCache's reserve
/// (`cache.t4g.small` when neither is named).
fn cache_node(d: &DependencyPlan, named: Option<&str>, out: &mut Output) -> String {
    let with_reserve = |m: u64| m.saturating_mul(100).div_ceil(100 - CACHE_RESERVED_PERCENT);
    let node = match named {
        Some(node) => node.to_owned(),
        None => {
            let (_, memory) = asked(d);
            let want = memory.max(d.maxmemory.map(|m| with_reserve(m.0))).unwrap_or(GIB);
            smallest(CACHE_NODES, 0, want, d, out).to_owned()
        }
    };
    let has = CACHE_NODES.iter().find(|(n, _, _)| *n == node.as_str()).map(|(_, _, m)| *m);
    if let (Some(max), Some(has)) = (d.maxmemory, has)
        && with_reserve(max.0) > has
    {
        out.unsupported(
            Target::Cloudformation,
            format!(
                "the maxmemory {max} of `{}` ({node} has {} of memory, {CACHE_RESERVED_PERCENT}% of it reserved; \
                 rendered {node})",
                d.name,
                ByteSize(has)
            ),
            "ElastiCache sets maxmemory from the node type; name a larger one in `managed.node_type`",
        );
    }
    node
}

/// RDS's allocated storage in GiB: the dependency's `storage`, within what
/// the storage type allows.
/// A target-tracking configuration, with the spec's stabilization windows
/// as cooldowns when it sets them.
fn tracking(target: f64, predefined: &str, scale_out: Option<u64>, scale_in: Option<u64>) -> Value {
    let mut config =
        json!({ "TargetValue": target, "PredefinedMetricSpecification": { "PredefinedMetricType": predefined } });
    if let Some(s) = scale_out {
        config["ScaleOutCooldown"] = json!(s);
    }
    if let Some(s) = scale_in {
        config["ScaleInCooldown"] = json!(s);
    }
    config
}

fn allocated_storage(d: &DependencyPlan, storage_type: StorageType, out: &mut Output) -> u64 {
    let (min, max) = match storage_type {
        StorageType::Gp2 | StorageType::Gp3 => (20, 65536),
        StorageType::Io1 | StorageType::Io2 => (100, 65536),
    };
    let gib = d.storage.0.div_ceil(GIB);
    let rendered = gib.clamp(min, max);
    if rendered != gib {
        out.unsupported(
            Target::Cloudformation,
            format!(
                "the storage {} of `{}` (RDS {} storage is {min} to {max} GiB; rendered {rendered} GiB)",
                d.storage,
                d.name,
                storage_type.as_str()
            ),
            "set `storage` within those bounds",
        );
    }
    rendered
}

/// The unit RDS takes a PostgreSQL parameter in, as bytes or milliseconds.
enum PgUnit {
    Bytes(u64),
    Millis(u64),
}

/// Parameters with units: RDS takes only plain numbers in the parameter's
/// own unit, so `512MB` of shared_buffers becomes 65536 (8 kB pages).
const PG_UNITS: &[(&str, PgUnit)] = &[
    ("shared_buffers", PgUnit::Bytes(8 << 10)),
    ("effective_cache_size", PgUnit::Bytes(8 << 10)),
    ("wal_buffers", PgUnit::Bytes(8 << 10)),
    ("temp_buffers", PgUnit::Bytes(8 << 10)),
    ("work_mem", PgUnit::Bytes(1 << 10)),
    ("maintenance_work_mem", PgUnit::Bytes(1 << 10)),
    ("autovacuum_work_mem", PgUnit::Bytes(1 << 10)),
    ("logical_decoding_work_mem", PgUnit::Bytes(1 << 10)),
    ("max_wal_size", PgUnit::Bytes(1 << 20)),
    ("min_wal_size", PgUnit::Bytes(1 << 20)),
    ("statement_timeout", PgUnit::Millis(1)),
    ("lock_timeout", PgUnit::Millis(1)),
    ("idle_in_transaction_session_timeout", PgUnit::Millis(1)),
    ("idle_session_timeout", PgUnit::Millis(1)),
    ("deadlock_timeout", PgUnit::Millis(1)),
    ("log_min_duration_statement", PgUnit::Millis(1)),
    ("checkpoint_timeout", PgUnit::Millis(1000)),
    ("archive_timeout", PgUnit::Millis(1000)),
];

/// A PostgreSQL duration in milliseconds: a number with `ms`, `s`, `min`,
/// `h` or `d`.
fn pg_millis(value: &str) -> Option<u64> {
    let value = value.trim();
    let split = value.find(|c: char| !c.is_ascii_digit()).unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let factor = match unit.trim() {
        "ms" => 1,
        "s" => 1000,
        "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    number.parse::<u64>().ok()?.checked_mul(factor)
}

/// The spec's settings as an RDS parameter group's: values with a unit in
/// the parameter's own unit (rounded up), the rest as written.
fn rds_parameters(settings: &std::collections::BTreeMap<String, String>) -> Map<String, Value> {
    settings
        .iter()
        .map(|(name, value)| {
            let has_unit = value.trim().ends_with(|c: char| c.is_ascii_alphabetic());
            let converted = PG_UNITS.iter().find(|(n, _)| *n == name.as_str()).filter(|_| has_unit).and_then(
                |(_, unit)| match unit {
                    PgUnit::Bytes(size) => pg_bytes(value, 1).map(|b| b.div_ceil(*size)),
                    PgUnit::Millis(size) => pg_millis(value).map(|ms| ms.div_ceil(*size)),
                },
            );
            (name.clone(), json!(converted.map_or_else(|| value.clone(), |n| n.to_string())))
        })
        .collect()
}
