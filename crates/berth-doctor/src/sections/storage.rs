//! Free space where data and backups live: the state directory (berth
//! up's databases and logs) and every local backup destination, each
//! filesystem reported once.

use std::path::PathBuf;

use super::judged;
use crate::report::{Check, Section, Status};
use crate::{Inputs, disk, judge};

pub fn check(inputs: &Inputs) -> Vec<Check> {
    let mut paths: Vec<PathBuf> = Vec::new();
    if inputs.state_dir.exists() {
        paths.push(inputs.state_dir.clone());
    }
    let mut local: Vec<PathBuf> = inputs
        .destinations
        .values()
        .filter_map(|d| d.as_ref().ok()?.local_path(""))
        .map(|p| p.components().collect())
        .collect();
    local.sort();
    local.dedup();
    paths.extend(local);
    let mut seen: Vec<(u64, Vec<String>, disk::Space)> = Vec::new();
    let mut out = Vec::new();
    for path in paths {
        // A destination not created yet is judged by the directory it will be in.
        let Some(existing) = path.ancestors().find(|p| p.exists()) else { continue };
        match disk::space(existing) {
            Ok(space) => match seen.iter_mut().find(|(dev, _, _)| *dev == space.device) {
                Some((_, names, _)) => names.push(path.display().to_string()),
                None => seen.push((space.device, vec![path.display().to_string()], space)),
            },
            Err(e) => out.push(Check::new(Section::Disk, path.display().to_string(), Status::Warn, e)),
        }
    }
    for (_, names, space) in seen {
        out.push(judged(Section::Disk, names.join(", "), judge::disk(space.free, space.total)));
    }
    out
}
