//! Backups against the spec's policy: the newest verified (or, without
//! `verify`, complete) backup against the schedule, and for physical
//! backups the WAL archive against the recovery point and for holes.

use std::collections::BTreeMap;

use berth_backup::{Listed, Method};
use jiff::SignedDuration;

use super::judged;
use crate::Inputs;
use crate::judge::{self, Archiver};
use crate::report::{Check, Section, Status};

pub async fn check(inputs: &Inputs, archivers: &BTreeMap<String, Archiver>) -> Vec<Check> {
    let mut out = Vec::new();
    for dep in &inputs.plan.dependencies {
        let Some(job) = &dep.backup else { continue };
        let destination = match inputs.destinations.get(&dep.name) {
            Some(Ok(d)) => d,
            Some(Err(why)) => {
                out.push(Check::new(Section::Backups, &dep.name, Status::Fail, why.clone()));
                continue;
            }
            None => continue,
        };
        let listed = match berth_backup::list(destination, &dep.name).await {
            Ok(l) => l,
            Err(e) => {
                out.push(
                    Check::new(
                        Section::Backups,
                        &dep.name,
                        Status::Fail,
                        format!("cannot list {}: {e}", destination.display()),
                    )
                    .hint("check the destination's credentials and that it exists"),
                );
                continue;
            }
        };
        let complete = listed.iter().rev().find(|l| l.complete());
        let verified = listed.iter().rev().find(|l| l.complete() && l.verification.is_some());
        let schedule = job.schedule.0.as_str();
        let (what, newest) = if job.verify { ("verified", verified) } else { ("complete", complete) };
        let mut check = judged(
            Section::Backups,
            &dep.name,
            judge::backup_age(schedule, inputs.now, newest.and_then(Listed::at), what),
        );
        if let Some(newest) = newest {
            check.message = format!("{}: {} in {}", check.message, newest.id, destination.display());
        }
        out.push(check);
        // A newer backup that nobody proved restorable yet.
        if job.verify
            && let Some(c) = complete
            && verified.is_none_or(|v| v.id != c.id)
            && c.at().is_some_and(|at| at.duration_until(inputs.now) > SignedDuration::from_hours(1))
        {
            out.push(
                Check::new(
                    Section::Backups,
                    format!("{} verify", dep.name),
                    Status::Warn,
                    format!("the newest backup, {}, is not verified", c.id),
                )
                .hint(format!("berth backup verify {} {}", dep.name, c.id)),
            );
        }
        let incomplete = listed.iter().filter(|l| !l.complete()).count();
        if incomplete > 0 {
            out.push(
                Check::new(
                    Section::Backups,
                    format!("{} incomplete", dep.name),
                    Status::Warn,
                    format!("{incomplete} incomplete backups (no manifest): failed or running runs"),
                )
                .hint("berth backup prune removes those older than a day"),
            );
        }
        if let Some(rpo) = job.recovery_point {
            let archived = match berth_backup::wal::archived(destination, &dep.name).await {
                Ok(a) => a,
                Err(e) => {
                    out.push(Check::new(
                        Section::Backups,
                        format!("{} wal", dep.name),
                        Status::Fail,
                        format!("cannot list the WAL archive: {e}"),
                    ));
                    continue;
                }
            };
            let newest = berth_backup::wal::newest(&archived);
            let shipped = newest.as_ref().map(|(name, at)| (name.as_str(), at.unwrap_or(inputs.now)));
            let rpo = SignedDuration::try_from(rpo.0).unwrap_or(SignedDuration::MAX);
            out.push(judged(
                Section::Backups,
                format!("{} wal", dep.name),
                judge::wal(inputs.now, rpo, shipped, archivers.get(&dep.name)),
            ));
            // Shipping the newest segment says nothing of the ones before
            // it: every physical backup needs all of them from its start.
            let names: Vec<String> = archived.into_iter().map(|(name, _)| name).collect();
            let bases: Vec<(String, Vec<berth_backup::wal::Gap>)> = listed
                .iter()
                .filter_map(|l| l.manifest.as_ref())
                .filter(|m| m.method == Method::Physical && m.wal.is_some())
                .map(|m| (m.id.clone(), berth_backup::wal::backup_gaps(m, &names)))
                .collect();
            if !bases.is_empty() {
                out.push(judged(
                    Section::Backups,
                    format!("{} wal archive", dep.name),
                    judge::wal_gaps(&dep.name, &bases),
                ));
            }
        }
    }
    out
}
