//! `berth doctor`: gathers what the doctor needs from the spec, the
//! environment and the command line, runs it, prints the report and maps
//! its status to the exit code.

use std::collections::BTreeMap;

use berth_doctor::format::Format;
use berth_doctor::{Inputs, Status};

use super::dependencies::{destination, load_spec, source};
use super::runtime;
use crate::cli::{DoctorArgs, StatusFormat};
use crate::{CliError, ErrorKind, Outcome, environment, output};

pub fn run(args: &DoctorArgs, color: bool) -> anyhow::Result<Outcome> {
    // A monitoring plugin reads 1 as a warning: a spec with errors means the
    // doctor could not run (3, UNKNOWN), as an unreadable file does.
    let loaded =
        load_spec(&args.stack.file, args.stack.env.as_deref(), color).map_err(|e| match crate::error_kind(&e) {
            ErrorKind::SpecErrors => anyhow::Error::from(CliError::new(ErrorKind::Io, format!("{e:#}"))),
            _ => e,
        })?;
    // --endpoint was read as SERVICE=URL with the arguments; whether the
    // service is the spec's is wrong usage too (exit 2, as clap's own).
    let mut endpoints = BTreeMap::new();
    for endpoint in &args.endpoint {
        if !loaded.plan.services.iter().any(|s| s.name == endpoint.service) {
            let names: Vec<&str> = loaded.plan.services.iter().map(|s| s.name.as_str()).collect();
            crate::usage!(
                "--endpoint {}: no service `{}` in the spec (services: {})",
                endpoint.given,
                endpoint.service,
                names.join(", ")
            );
        }
        endpoints.insert(endpoint.service.clone(), endpoint.url.clone());
    }
    let servers = loaded
        .plan
        .dependencies
        .iter()
        .map(|d| (d.name.clone(), source(&loaded, d, None, true).map_err(|e| format!("{e:#}"))))
        .collect();
    let destinations = loaded
        .plan
        .dependencies
        .iter()
        .filter_map(|d| Some((d.name.clone(), destination(&loaded, d.backup.as_ref()?).map_err(|e| format!("{e:#}")))))
        .collect();
    let secret_env = loaded
        .plan
        .secrets
        .iter()
        .filter_map(|s| Some((s.name.clone(), environment::var(s.env.as_ref()?).is_some_and(|v| !v.is_empty()))))
        .collect();
    let inputs = Inputs {
        plan: loaded.plan,
        spec_dir: loaded.spec_dir,
        state_dir: loaded.state_dir,
        endpoints,
        servers,
        destinations,
        secret_env,
        now: jiff::Timestamp::now(),
    };
    let report = runtime()?.block_on(berth_doctor::examine(&inputs));
    let format = match args.output {
        StatusFormat::Table => Format::Human { color },
        StatusFormat::Json => Format::Json,
    };
    output::stdout(&berth_doctor::format::render(&report, format))?;
    Ok(match report.status {
        Status::Ok | Status::Skip => Outcome::Ok,
        Status::Warn => Outcome::Findings,
        Status::Fail => Outcome::Failing,
    })
}
