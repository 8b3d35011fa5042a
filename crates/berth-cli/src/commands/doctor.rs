//! `berth doctor`: gathers what the doctor needs from the spec, the
//! environment and the command line, runs it, prints the report and maps
//! its status to the exit code.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail};
use berth_doctor::format::Format;
use berth_doctor::{Inputs, Status};

use super::dependencies::{destination, load_spec, source};
use super::runtime;
use crate::cli::{DoctorArgs, StatusFormat};
use crate::{Outcome, environment, output};

pub fn run(args: &DoctorArgs, color: bool) -> anyhow::Result<Outcome> {
    let loaded = load_spec(&args.stack.file, args.stack.env.as_deref(), color)?;
    let mut endpoints = BTreeMap::new();
    // A bad --endpoint exits 3 like any other reason the doctor cannot run:
    // monitoring reads 2 as CRITICAL.
    for given in &args.endpoint {
        let (service, url) = given
            .split_once('=')
            .ok_or_else(|| anyhow!("--endpoint {given}: expected SERVICE=URL, such as api=http://127.0.0.1:8080"))?;
        if !loaded.plan.services.iter().any(|s| s.name == service) {
            let names: Vec<&str> = loaded.plan.services.iter().map(|s| s.name.as_str()).collect();
            bail!("--endpoint {given}: no service `{service}` in the spec (services: {})", names.join(", "));
        }
        let url = url::Url::parse(url).map_err(|e| anyhow!("--endpoint {given}: {e}"))?;
        if url.scheme() != "http" {
            bail!("--endpoint {given}: only http:// endpoints are checked (health checks run on the plain port)");
        }
        endpoints.insert(service.to_owned(), url);
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
