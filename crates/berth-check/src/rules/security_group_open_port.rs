use berth_spec::Node;

use crate::graph::cloudformation::{Known, Resource, key_span};
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// A security group rule that lets `0.0.0.0/0` or `::/0` reach SSH,
    /// RDP or a database or cache port puts that service on the internet,
    /// where scanners find it within minutes and try passwords, known
    /// exploits and unauthenticated access (Redis, Elasticsearch and
    /// MongoDB have shipped with none). Ports: 22 (SSH), 3389 (RDP), 1433
    /// (SQL Server), 3306 (MySQL), 5432 (PostgreSQL), 6379 (Redis), 9200
    /// (Elasticsearch), 11211 (memcached), 27017 (MongoDB), in a rule of
    /// `AWS::EC2::SecurityGroup` or `AWS::EC2::SecurityGroupIngress`. A
    /// range or protocol computed by `!Ref` or `!If` is not judged.
    SecurityGroupOpenPort {
        code: "A004",
        name: "security-group-open-port",
        severity: Error,
        fix: "allow the security group of the clients (`SourceSecurityGroupId`) or a narrow CIDR, and reach SSH through Session Manager or a bastion",
    }
}

const PORTS: [(i64, &str); 9] = [
    (22, "SSH"),
    (3389, "RDP"),
    (1433, "SQL Server"),
    (3306, "MySQL"),
    (5432, "PostgreSQL"),
    (6379, "Redis"),
    (9200, "Elasticsearch"),
    (11211, "memcached"),
    (27017, "MongoDB"),
];

/// The sensitive ports one ingress rule opens to the whole internet.
fn open_ports<'a>(r: &Resource<'a>, rule: &'a Node) -> Vec<(i64, &'static str)> {
    let everyone = |key: &str| matches!(r.string_in(rule, key), Known::Is("0.0.0.0/0" | "::/0" | "::0/0"));
    if !everyone("CidrIp") && !everyone("CidrIpv6") {
        return Vec::new();
    }
    let protocol = match (r.string_in(rule, "IpProtocol"), r.int_in(rule, "IpProtocol")) {
        (_, Known::Is(n)) => n.to_string(),
        (Known::Is(p), _) => p.to_ascii_lowercase(),
        _ => return Vec::new(),
    };
    let (from, to) = match protocol.as_str() {
        "-1" | "all" => (0, 65535),
        "tcp" | "6" => match (r.int_in(rule, "FromPort"), r.int_in(rule, "ToPort")) {
            (Known::Is(from), Known::Is(to)) if from < 0 || to < 0 => (0, 65535),
            (Known::Is(from), Known::Is(to)) => (from, to),
            _ => return Vec::new(),
        },
        _ => return Vec::new(),
    };
    PORTS.iter().copied().filter(|(port, _)| (from..=to).contains(port)).collect()
}

impl Rule for SecurityGroupOpenPort {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for template in cx.graph.templates {
            let Some(file) = cx.files.get(template.file) else { continue };
            for r in template.resources(&file.text) {
                let rules: Vec<&Node> = match r.kind {
                    "AWS::EC2::SecurityGroup" => r.maps(r.property("SecurityGroupIngress")).unwrap_or_default(),
                    "AWS::EC2::SecurityGroupIngress" => match r.properties() {
                        Known::Is(properties) => vec![properties],
                        _ => Vec::new(),
                    },
                    _ => Vec::new(),
                };
                for rule in rules {
                    let open = open_ports(&r, rule);
                    let Some((port, service)) = open.first() else { continue };
                    let names: Vec<String> = open.iter().map(|(p, s)| format!("{p} ({s})")).collect();
                    let what = if open.len() == 1 {
                        format!("port {port} ({service})")
                    } else {
                        format!("ports {}", names.join(", "))
                    };
                    let span = key_span(rule, "CidrIp").or_else(|| key_span(rule, "CidrIpv6")).unwrap_or(r.id_span);
                    sink.report(r.file, span, format!("`{}` lets the whole internet reach {what}", r.id));
                }
            }
        }
    }
}
