use super::rds_deletion_protection::rds_database;
use crate::graph::cloudformation::Known;
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// RDS storage is unencrypted unless `StorageEncrypted: true` says
    /// otherwise, and encryption cannot be turned on later: it takes a
    /// snapshot, an encrypted copy and a restore into a new instance, with
    /// downtime. Unencrypted storage also leaves its snapshots and backups
    /// unencrypted. Not reported where the encryption comes from elsewhere:
    /// a restore from a snapshot, a read replica, an Aurora cluster's member
    /// instance, a `KmsKeyId`, Aurora Serverless v1 (always encrypted), or SQL Server
    /// Express (which cannot encrypt).
    RdsStorageUnencrypted {
        code: "A002",
        name: "rds-storage-unencrypted",
        severity: Error,
        fix: "set `StorageEncrypted: true` (optionally with a `KmsKeyId`) when the database is created",
    }
}

/// Properties whose presence means the encryption is decided elsewhere.
const INHERITED: [&str; 7] = [
    "SourceDBInstanceIdentifier",
    "DBSnapshotIdentifier",
    "SnapshotIdentifier",
    "SourceDBClusterIdentifier",
    "ReplicationSourceIdentifier",
    "RestoreType",
    "KmsKeyId",
];

impl Rule for RdsStorageUnencrypted {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for template in cx.graph.templates {
            let Some(file) = cx.files.get(template.file) else { continue };
            for r in template.resources(&file.text).iter().filter(|r| rds_database(r)) {
                // SQL Server Express cannot encrypt its storage.
                if INHERITED.iter().any(|p| r.property(p) != Known::Absent)
                    || r.string("Engine") == Known::Is("sqlserver-ex")
                {
                    continue;
                }
                if r.kind == "AWS::RDS::DBCluster"
                    && r.string("EngineMode") != Known::Absent
                    && r.string("EngineMode") != Known::Is("provisioned")
                {
                    continue;
                }
                match r.bool("StorageEncrypted") {
                    Known::Absent => {
                        sink.report(
                            r.file,
                            r.id_span,
                            format!("`{}` stores its data unencrypted: `StorageEncrypted` is not set", r.id),
                        );
                    }
                    Known::Is(false) => {
                        sink.report(
                            r.file,
                            r.span("StorageEncrypted"),
                            format!("`{}` stores its data unencrypted", r.id),
                        );
                    }
                    Known::Is(true) | Known::Unknown => {}
                }
            }
        }
    }
}
