//! TLS certificates: the files the spec names and what the edge serves.
//! Expired fails, under 30 days warns, a host the certificate does not
//! cover warns.

use berth_spec::TlsMode;

use super::judged;
use crate::report::{Check, Section, Status};
use crate::tls::{self, Leaf};
use crate::{Inputs, Running, judge};

pub async fn check(inputs: &Inputs, running: &Running) -> Vec<Check> {
    let Some(edge) = &inputs.plan.edge else { return Vec::new() };
    let Some(plan) = &edge.tls else { return Vec::new() };
    let mut out = Vec::new();
    if plan.mode == TlsMode::Files
        && let Some(cert) = &plan.cert
    {
        let path = inputs.spec_dir.join(cert);
        let subject = path.display().to_string();
        match std::fs::read(&path).map_err(|e| e.to_string()).and_then(|pem| tls::leaf_from_pem(&pem)) {
            Ok(leaf) => out.extend(judge_leaf(&subject, &leaf, &edge.hosts, inputs.now)),
            Err(e) => {
                out.push(Check::new(Section::Tls, subject, Status::Fail, e).hint("the edge cannot start without it"))
            }
        }
    }
    let served = running.state.as_ref().and_then(|s| s.edge_https);
    match served {
        Some(addr) => {
            let sni = edge.hosts.iter().find(|h| !h.starts_with('*')).map_or("localhost", String::as_str);
            let subject = format!("https://{addr} ({sni})");
            match tls::served(addr, sni).await {
                Ok(leaf) => out.extend(judge_leaf(&subject, &leaf, &edge.hosts, inputs.now)),
                Err(e) => {
                    out.push(Check::new(Section::Tls, subject, Status::Fail, format!("TLS handshake failed: {e}")))
                }
            }
        }
        None if out.is_empty() => out.push(Check::new(
            Section::Tls,
            "edge",
            Status::Skip,
            "no certificate file in the spec and no running edge to ask",
        )),
        None => {}
    }
    out
}

fn judge_leaf(subject: &str, leaf: &Leaf, hosts: &[String], now: jiff::Timestamp) -> Vec<Check> {
    let mut judged_leaf = judge::certificate(leaf.not_after, now);
    if leaf.self_signed {
        judged_leaf.message.push_str(", self-signed");
    }
    let mut out = vec![judged(Section::Tls, subject, judged_leaf)];
    let uncovered: Vec<&str> =
        hosts.iter().filter(|h| !h.starts_with('*') && !tls::covers(&leaf.names, h)).map(String::as_str).collect();
    if !uncovered.is_empty() {
        out.push(
            Check::new(
                Section::Tls,
                subject,
                Status::Warn,
                format!("does not cover {} (it names {})", uncovered.join(", "), leaf.names.join(", ")),
            )
            .hint("clients reject it for those hosts: reissue it with every host of the edge"),
        );
    }
    out
}
