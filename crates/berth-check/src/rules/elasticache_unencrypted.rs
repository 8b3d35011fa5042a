use crate::graph::cloudformation::Known;
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// An ElastiCache replication group (Redis OSS) encrypts nothing unless
    /// told: without `TransitEncryptionEnabled: true` clients send commands,
    /// data and the `AUTH` token in clear text across the VPC, and without
    /// `AtRestEncryptionEnabled: true` the nodes' disks, swap and backups in
    /// S3 hold the data unencrypted. Neither can be switched on in place on
    /// older engine versions. Not reported for a group that takes its
    /// settings from a primary cluster or a global datastore
    /// (`PrimaryClusterId`, `GlobalReplicationGroupId`), nor for at-rest
    /// encryption of Valkey, which is on by default.
    ElasticacheUnencrypted {
        code: "A006",
        name: "elasticache-unencrypted",
        severity: Error,
        fix: "set `TransitEncryptionEnabled: true` and `AtRestEncryptionEnabled: true` (with an `AuthToken` from Secrets Manager)",
    }
}

impl Rule for ElasticacheUnencrypted {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for template in cx.graph.templates {
            let Some(file) = cx.files.get(template.file) else { continue };
            for r in template.resources(&file.text) {
                if r.kind != "AWS::ElastiCache::ReplicationGroup"
                    || r.property("PrimaryClusterId") != Known::Absent
                    || r.property("GlobalReplicationGroupId") != Known::Absent
                {
                    continue;
                }
                let engine = r.string("Engine");
                for (key, what, default_on) in [
                    ("TransitEncryptionEnabled", "in transit", false),
                    ("AtRestEncryptionEnabled", "at rest", engine != Known::Absent && engine != Known::Is("redis")),
                ] {
                    match r.bool(key) {
                        Known::Absent if !default_on => {
                            sink.report(
                                r.file,
                                r.id_span,
                                format!("`{}` is not encrypted {what}: `{key}` is not set", r.id),
                            );
                        }
                        Known::Is(false) => {
                            sink.report(r.file, r.span(key), format!("`{}` is not encrypted {what}", r.id));
                        }
                        _ => {}
                    }
                }
            }
        }
    }
}
