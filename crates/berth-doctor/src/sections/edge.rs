//! The edge: it answers, and it sees healthy replicas behind every route.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::report::{Check, Section, Status};
use crate::{Inputs, Running, http};

pub async fn check(inputs: &Inputs, running: &Running) -> Vec<Check> {
    let Some(edge) = &inputs.plan.edge else { return Vec::new() };
    let Some(state) = &running.state else {
        return vec![Check::new(Section::Edge, "edge", Status::Skip, "not running here (no live `berth up`)")];
    };
    let mut out = Vec::new();
    let Some(http_addr) = state.edge_http else {
        return vec![
            Check::new(Section::Edge, "edge", Status::Fail, "the spec has an edge but the running stack has none")
                .hint("restart the stack: berth down, then berth up"),
        ];
    };
    // Any HTTP answer proves the listener; a redirect to HTTPS is an answer too.
    out.push(match http::get(&http_addr.to_string(), "/", Duration::from_secs(5)).await {
        Ok(a) => Check::new(
            Section::Edge,
            "edge http",
            Status::Ok,
            format!("http://{http_addr} answers ({} in {} ms)", a.status, a.millis),
        ),
        Err(e) => Check::new(Section::Edge, "edge http", Status::Fail, format!("http://{http_addr}: {e}")),
    });
    let Some(admin) = state.edge_admin else { return out };
    let status = match http::get(&admin.to_string(), "/status.json", Duration::from_secs(5)).await {
        Ok(a) if a.status == 200 => serde_json::from_slice::<serde_json::Value>(&a.body).ok(),
        _ => None,
    };
    let Some(status) = status else {
        out.push(Check::new(
            Section::Edge,
            "edge admin",
            Status::Warn,
            format!("http://{admin}/status.json did not answer"),
        ));
        return out;
    };
    // Healthy and total replicas per service, as the edge's health checks see them.
    let mut seen: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for row in status["replicas"].as_array().into_iter().flatten() {
        let Some(service) = row["service"].as_str() else { continue };
        let entry = seen.entry(service.to_owned()).or_default();
        entry.1 += 1;
        if row["healthy"].as_bool() == Some(true) {
            entry.0 += 1;
        }
    }
    let mut routed: Vec<&str> = edge.routes.iter().flat_map(|r| r.shares().map(|s| s.service)).collect();
    routed.sort_unstable();
    routed.dedup();
    for service in routed {
        let subject = format!("edge → {service}");
        out.push(match seen.get(service) {
            None | Some((_, 0)) => {
                Check::new(Section::Edge, subject, Status::Fail, "the edge has no replica to send traffic to")
                    .hint(format!("see `berth status` and `berth logs {service}`"))
            }
            Some((0, total)) => Check::new(
                Section::Edge,
                subject,
                Status::Fail,
                format!("0 of {total} replicas healthy: requests fail"),
            )
            .hint(format!("see `berth logs {service}`")),
            Some((healthy, total)) if healthy < total => {
                Check::new(Section::Edge, subject, Status::Warn, format!("{healthy} of {total} replicas healthy"))
            }
            Some((healthy, total)) => {
                Check::new(Section::Edge, subject, Status::Ok, format!("{healthy} of {total} replicas healthy"))
            }
        });
    }
    out
}
