//! `berth edge`: the edge on its own, as a platform's gateway.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;

use berth_runtime::gateway::GatewayOptions;

use crate::Outcome;
use crate::cli::EdgeArgs;
use crate::output;

pub fn run(args: &EdgeArgs, color: bool) -> anyhow::Result<Outcome> {
    let stack = &args.stack;
    let loaded = match &args.spec_env {
        Some(var) => {
            let text = crate::environment::var(var)
                .with_context(|| format!("--spec-env {var}: the environment has no `{var}` holding the spec"))?;
            super::load_source(
                &berth_diagnostics::SourceFile::new(format!("${var}"), text),
                stack.env.as_deref(),
                color,
            )?
        }
        None => super::load(&stack.file, stack.env.as_deref(), color)?,
    };
    let Some(plan) = loaded else {
        output::stderr("nothing started: the spec has errors\n");
        return Ok(Outcome::Findings);
    };
    let Some(edge) = &plan.edge else {
        output::stderr(&format!("{}: the spec has no `edge`; there is nothing to serve\n", stack.file.display()));
        return Ok(Outcome::Findings);
    };
    let spec_dir = stack.file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
    let options = GatewayOptions {
        spec_dir,
        http: SocketAddr::new(args.bind, edge.listen.http),
        https: SocketAddr::new(args.bind, edge.listen.https),
        admin: args.admin.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], edge.listen.admin))),
        tls_files: args.tls_cert.clone().zip(args.tls_key.clone()),
        secrets: Box::new(secret_lookup(args.secrets_dir.clone())),
        resolve_every: Duration::from_secs(args.resolve_every),
        domain: args.domain.clone(),
        tls_offloaded: args.tls_offloaded,
        trusted_proxies: args.trusted_proxies.clone(),
    };
    let drain = Duration::from_secs(args.drain);
    super::runtime()?.block_on(async {
        let gateway = berth_runtime::gateway::start(&plan, &options).await?;
        let mut lines = format!("{}: edge serving {} routes\n", plan.project, edge.routes.len());
        lines.push_str(&format!("edge: http {}\n", gateway.edge.http));
        if let Some(https) = gateway.edge.https {
            lines.push_str(&format!("edge: https {https}\n"));
        }
        if let Some(admin) = gateway.edge.admin {
            lines.push_str(&format!("edge: admin {admin}\n"));
        }
        let _ = output::stdout(&lines);
        gateway.serve(drain, |change| output::stderr(&format!("{change}\n"))).await?;
        let _ = output::stdout("stopped\n");
        Ok(Outcome::Ok)
    })
}

/// A secret from `<dir>/<name>` (compose mounts secrets there), else where
/// `berth up` finds it: its file, or its environment variable.
fn secret_lookup(dir: Option<std::path::PathBuf>) -> impl Fn(&berth_plan::SecretPlan) -> Option<String> + Send + Sync {
    move |secret| {
        dir.as_ref()
            .and_then(|d| std::fs::read_to_string(d.join(&secret.name)).ok())
            .map(|v| v.trim_end_matches(['\r', '\n']).to_owned())
            .or_else(|| super::secret_value(secret))
    }
}
