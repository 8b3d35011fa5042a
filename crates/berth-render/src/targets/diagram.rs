//! A picture of the deployment: edge → routes → services → dependencies,
//! with monitoring and backups, as Mermaid (for Markdown viewers) and as a
//! self-contained SVG (for everyone else).

use std::fmt::Write as _;

use berth_plan::{Plan, Replicas};

use crate::{Output, header};

/// Node ids in Mermaid are letters, digits and `_`.
fn id(prefix: &str, name: &str) -> String {
    format!("{prefix}_{}", name.replace(|c: char| !c.is_ascii_alphanumeric(), "_"))
}

fn replicas(r: &Replicas) -> String {
    match r {
        Replicas::Fixed { count } => format!("x{count}"),
        Replicas::Autoscaled { min, max, .. } => format!("x{min}-{max}"),
    }
}

/// Shortens text to `max` characters with an ellipsis, so it stays in its box.
fn fit(text: &str, max: usize) -> String {
    if text.chars().count() <= max { text.to_owned() } else { text.chars().take(max - 1).collect::<String>() + "…" }
}

/// XML-escapes text for the SVG.
fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

pub fn render(plan: &Plan) -> Output {
    let mut out = Output::default();
    out.file("diagram.mmd", mermaid(plan));
    out.file("diagram.svg", svg(plan));
    out
}

fn mermaid(plan: &Plan) -> String {
    let mut m = header::comment("%%", plan, "diagram");
    m.push_str("flowchart LR\n");
    let _ = writeln!(m, "    clients((Clients))");
    if let Some(edge) = &plan.edge {
        let tls = if edge.tls.is_some() { "HTTPS" } else { "HTTP" };
        let hosts = if edge.hosts.is_empty() { "any host".to_owned() } else { edge.hosts.join(", ") };
        let _ = writeln!(m, "    edge[\"edge ({tls})<br/>{hosts}\"]");
        let _ = writeln!(m, "    clients --> edge");
        for route in &edge.routes {
            let mut label = route.path.clone();
            if route.websocket {
                label.push_str(" ws");
            }
            if let Some(zone) = &route.rate_limit {
                let _ = write!(label, " limit:{zone}");
            }
            if route.auth.is_some() {
                label.push_str(" auth");
            }
            if !route.allow.is_empty() {
                label.push_str(" allowlist");
            }
            if route.split.is_empty() {
                let _ = writeln!(m, "    edge -- \"{label}\" --> {}", id("svc", &route.service));
            } else {
                for share in route.shares() {
                    let _ = writeln!(m, "    edge -- \"{label} {}%\" --> {}", share.weight, id("svc", share.service));
                }
            }
        }
    }
    for s in &plan.services {
        let _ = writeln!(m, "    {}[\"{} {}\"]", id("svc", &s.name), s.name, replicas(&s.replicas));
        for dep in &s.uses {
            if let Some(d) = plan.dependencies.iter().find(|d| &d.name == dep) {
                let _ = writeln!(m, "    {} -- \":{}\" --> {}", id("svc", &s.name), d.port, id("dep", &d.name));
            }
        }
    }
    for d in &plan.dependencies {
        let _ = writeln!(m, "    {}[(\"{} {} {}\")]", id("dep", &d.name), d.name, d.kind.as_str(), d.version);
    }
    if plan.monitoring.enabled {
        let _ = writeln!(m, "    prometheus{{{{\"Prometheus: {} alerts\"}}}}", plan.monitoring.alerts.len());
        for t in &plan.monitoring.scrape_targets {
            let target = plan
                .services
                .iter()
                .find(|s| s.name == t.subject)
                .map(|s| id("svc", &s.name))
                .or_else(|| plan.dependencies.iter().find(|d| d.name == t.subject).map(|d| id("dep", &d.name)));
            if let Some(target) = target {
                let _ = writeln!(m, "    prometheus -. scrape .-> {target}");
            }
        }
    }
    for b in &plan.backups {
        let _ = writeln!(m, "    {}[/\"backup {} {} ({})\"/]", id("backup", &b.name), b.name, b.method, b.schedule);
        let from = match &b.subject {
            berth_plan::BackupSubject::Volume { service, .. } => id("svc", service),
            _ => id("dep", &b.name),
        };
        let _ = writeln!(m, "    {from} -. {} .-> {}", b.method, id("backup", &b.name));
    }
    m
}

struct Box_ {
    x: u32,
    y: u32,
    title: String,
    detail: String,
    fill: &'static str,
}

const W: u32 = 200;
const H: u32 = 56;
const GAP_X: u32 = 90;
const GAP_Y: u32 = 24;

fn svg(plan: &Plan) -> String {
    let mut boxes: Vec<Box_> = Vec::new();
    let mut lines: Vec<(usize, usize, String)> = Vec::new();
    let col = |c: u32| 20 + c * (W + GAP_X);
    let row = |r: usize| 110 + u32::try_from(r).unwrap_or(0) * (H + GAP_Y);
    let edge_box = plan.edge.as_ref().map(|edge| {
        boxes.push(Box_ {
            x: col(0),
            y: row(0),
            title: format!("edge ({})", if edge.tls.is_some() { "HTTPS" } else { "HTTP" }),
            detail: if edge.hosts.is_empty() { "any host".to_owned() } else { edge.hosts.join(", ") },
            fill: "#e8f0fe",
        });
        boxes.len() - 1
    });
    let mut service_boxes = Vec::new();
    for (i, s) in plan.services.iter().enumerate() {
        let ports: Vec<String> = s.ports.iter().map(|p| format!("{}:{}", p.name, p.port)).collect();
        boxes.push(Box_ {
            x: col(1),
            y: row(i),
            title: format!("{} {}", s.name, replicas(&s.replicas)),
            detail: ports.join(" "),
            fill: "#e6f4ea",
        });
        service_boxes.push(boxes.len() - 1);
    }
    let mut dep_boxes = Vec::new();
    for (i, d) in plan.dependencies.iter().enumerate() {
        boxes.push(Box_ {
            x: col(2),
            y: row(i),
            title: d.name.clone(),
            detail: format!("{} {} :{}", d.kind.as_str(), d.version, d.port),
            fill: "#fef7e0",
        });
        dep_boxes.push(boxes.len() - 1);
    }
    if let (Some(e), Some(edge)) = (edge_box, &plan.edge) {
        // One arrow per service, labelled with every path routed to it.
        for (i, s) in plan.services.iter().enumerate() {
            let paths: Vec<&str> =
                edge.routes.iter().filter(|r| r.sends_to(&s.name)).map(|r| r.path.as_str()).collect();
            if !paths.is_empty() {
                lines.push((e, service_boxes[i], paths.join(" ")));
            }
        }
    }
    for (i, s) in plan.services.iter().enumerate() {
        for dep in &s.uses {
            if let Some(j) = plan.dependencies.iter().position(|d| &d.name == dep) {
                lines.push((service_boxes[i], dep_boxes[j], String::new()));
            }
        }
    }
    let rows = plan.services.len().max(plan.dependencies.len()).max(1);
    let mut extra_row = rows;
    if plan.monitoring.enabled {
        boxes.push(Box_ {
            x: col(1),
            y: row(extra_row),
            title: "Prometheus".to_owned(),
            detail: format!(
                "{} alerts, {} targets",
                plan.monitoring.alerts.len(),
                plan.monitoring.scrape_targets.len()
            ),
            fill: "#fce8e6",
        });
        extra_row += 1;
    }
    let mut dashed = Vec::new();
    for (i, b) in plan.backups.iter().enumerate() {
        boxes.push(Box_ {
            x: col(2),
            y: row(extra_row + i),
            title: format!("backup {}", b.name),
            detail: format!("{} {}", b.method, b.schedule),
            fill: "#f3e8fd",
        });
        let from = match &b.subject {
            berth_plan::BackupSubject::Volume { service, .. } => {
                plan.services.iter().position(|s| &s.name == service).map(|i| service_boxes[i])
            }
            _ => plan.dependencies.iter().position(|d| d.name == b.name).map(|j| dep_boxes[j]),
        };
        if let Some(from) = from {
            dashed.push((from, boxes.len() - 1));
        }
    }
    let height = boxes.iter().map(|b| b.y + H).max().unwrap_or(H) + 30;
    let width = col(3) + 10 * u32::try_from(plan.backups.len()).unwrap_or(0);
    let mut s = String::new();
    let _ = writeln!(s, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    let _ = writeln!(s, "<!-- Generated by berth from berth.yaml. Do not edit: run `berth render diagram`. -->");
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"13\">"
    );
    let _ = writeln!(s, "  <title>{} deployment</title>", esc(&plan.project));
    let _ = writeln!(
        s,
        "  <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#5f6368\"/></marker></defs>"
    );
    let env = plan.environment.as_deref().map_or(String::new(), |e| format!(" ({e})"));
    let _ = writeln!(
        s,
        "  <text x=\"20\" y=\"30\" font-size=\"18\" font-weight=\"bold\">{}{}</text>",
        esc(&plan.project),
        esc(&env)
    );
    for (from, to, label) in &lines {
        let (a, b) = (&boxes[*from], &boxes[*to]);
        let (x1, y1, x2, y2) = (a.x + W, a.y + H / 2, b.x, b.y + H / 2);
        let _ = writeln!(
            s,
            "  <line x1=\"{x1}\" y1=\"{y1}\" x2=\"{x2}\" y2=\"{y2}\" stroke=\"#5f6368\" stroke-width=\"1.5\" marker-end=\"url(#arrow)\"/>"
        );
        // Paths stack above the arrow so several routes stay readable.
        for (k, part) in label.split(' ').filter(|p| !p.is_empty()).rev().enumerate() {
            let y = (y1 + y2) / 2 - 4 - 13 * u32::try_from(k).unwrap_or(0);
            let _ = writeln!(
                s,
                "  <text x=\"{}\" y=\"{y}\" font-size=\"11\" fill=\"#3c4043\" text-anchor=\"middle\">{}</text>",
                (x1 + x2) / 2,
                esc(part)
            );
        }
    }
    for (k, (from, to)) in dashed.iter().enumerate() {
        let (a, b) = (&boxes[*from], &boxes[*to]);
        // Each backup line enters from its own x, so lines past other boxes stay apart.
        let x = a.x + W + 12 + 10 * u32::try_from(k).unwrap_or(0);
        let _ = writeln!(
            s,
            "  <polyline points=\"{},{} {x},{} {x},{} {},{}\" fill=\"none\" stroke=\"#8e24aa\" stroke-width=\"1.2\" stroke-dasharray=\"5 4\" marker-end=\"url(#arrow)\"/>",
            a.x + W,
            a.y + H / 2,
            a.y + H / 2,
            b.y + H / 2,
            b.x + W,
            b.y + H / 2
        );
    }
    for b in &boxes {
        let _ = writeln!(
            s,
            "  <rect x=\"{}\" y=\"{}\" width=\"{W}\" height=\"{H}\" rx=\"8\" fill=\"{}\" stroke=\"#5f6368\"/>",
            b.x, b.y, b.fill
        );
        let _ =
            writeln!(s, "  <text x=\"{}\" y=\"{}\" font-weight=\"bold\">{}</text>", b.x + 10, b.y + 22, esc(&b.title));
        let _ = writeln!(
            s,
            "  <text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"#3c4043\">{}</text>",
            b.x + 10,
            b.y + 42,
            esc(&fit(&b.detail, 30))
        );
    }
    s.push_str("</svg>\n");
    s
}
