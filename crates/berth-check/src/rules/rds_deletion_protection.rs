use crate::graph::cloudformation::{Known, Resource};
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// An RDS instance or cluster without `DeletionProtection: true` goes
    /// with the stack: a stack deleted by mistake, or an update that
    /// replaces the resource (a changed identifier, engine or storage
    /// setting), deletes the database, and `DeleteAutomatedBackups`
    /// defaults to taking its automated backups along. Instances of an
    /// Aurora cluster (`DBClusterIdentifier`) are protected through their
    /// cluster, and read replicas (`SourceDBInstanceIdentifier`) hold a copy
    /// of their source's data: neither is reported. A value computed by
    /// `!Ref` or `!If` is not judged.
    RdsDeletionProtection {
        code: "A001",
        name: "rds-deletion-protection",
        severity: Warning,
        fix: "set `DeletionProtection: true` (and `DeletionPolicy: Snapshot` with `UpdateReplacePolicy: Snapshot` on the resource)",
    }
}

/// An RDS instance or cluster that holds its own data settings (not an
/// Aurora cluster's member instance, not a read replica).
pub fn rds_database(r: &Resource<'_>) -> bool {
    match r.kind {
        "AWS::RDS::DBCluster" => true,
        "AWS::RDS::DBInstance" => {
            r.property("DBClusterIdentifier") == Known::Absent
                && r.property("SourceDBInstanceIdentifier") == Known::Absent
        }
        _ => false,
    }
}

impl Rule for RdsDeletionProtection {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for template in cx.graph.templates {
            let Some(file) = cx.files.get(template.file) else { continue };
            for r in template.resources(&file.text).iter().filter(|r| rds_database(r)) {
                match r.bool("DeletionProtection") {
                    Known::Absent => {
                        sink.report(r.file, r.id_span, format!("`{}` has no `DeletionProtection`", r.id));
                    }
                    Known::Is(false) => {
                        sink.report(
                            r.file,
                            r.span("DeletionProtection"),
                            format!("`{}` turns `DeletionProtection` off", r.id),
                        );
                    }
                    Known::Is(true) | Known::Unknown => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn read_replicas_hold_a_copy_and_are_not_reported() {
        let template = "Resources:\n  Db:\n    Type: AWS::RDS::DBInstance\n    Properties:\n      DBInstanceClass: db.t4g.small\n  DbReplica:\n    Type: AWS::RDS::DBInstance\n    Properties:\n      SourceDBInstanceIdentifier: !Ref Db\n      DBInstanceClass: db.t4g.small\n";
        let found = crate::rules::messages_of("A001", &[("template.yaml", template)]);
        assert_eq!(found, ["`Db` has no `DeletionProtection`"]);
    }
}
