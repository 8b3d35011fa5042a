use crate::graph::cloudformation::Known;
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// `BackupRetentionPeriod: 0` turns RDS's automated backups off: no
    /// daily snapshots and no point-in-time recovery, so a dropped table or
    /// a bad migration can only be undone from whatever else backs the
    /// database up. Read replicas and an Aurora cluster's member instances
    /// are not reported (their backups are the source's or the cluster's).
    RdsBackupsDisabled {
        code: "A003",
        name: "rds-backups-disabled",
        severity: Warning,
        fix: "keep automated backups: set `BackupRetentionPeriod` to the days of point-in-time recovery you need (1 to 35)",
    }
}

impl Rule for RdsBackupsDisabled {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for template in cx.graph.templates {
            let Some(file) = cx.files.get(template.file) else { continue };
            for r in template.resources(&file.text) {
                let instance = r.kind == "AWS::RDS::DBInstance"
                    && r.property("DBClusterIdentifier") == Known::Absent
                    && r.property("SourceDBInstanceIdentifier") == Known::Absent;
                if instance && r.int("BackupRetentionPeriod") == Known::Is(0) {
                    sink.report(
                        r.file,
                        r.span("BackupRetentionPeriod"),
                        format!("`{}` keeps no automated backups and has no point-in-time recovery", r.id),
                    );
                }
            }
        }
    }
}
