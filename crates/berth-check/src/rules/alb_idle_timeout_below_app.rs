use berth_diagnostics::Span;
use berth_spec::Node;

use crate::graph::cloudformation::{Known, Resource, key_span};
use crate::graph::command::{Setting, expanded, option};
use crate::graph::nginx::{effective, seconds};
use crate::graph::place;
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// An Application Load Balancer gives up on a request when no byte has
    /// crossed the connection for its idle timeout (60 s unless the
    /// `idle_timeout.timeout_seconds` attribute says otherwise) and answers
    /// 504, while the app behind it goes on working on a request it was
    /// told it may take longer for: slow reports, exports and uploads fail
    /// for the user and are often retried, doing the work twice. Reported
    /// when the template shows the whole chain (the load balancer, a
    /// listener or listener rule on it, a target group it forwards to, the
    /// `AWS::ECS::Service` registered with that group, and the task
    /// definition's container the service names) and that container's
    /// command sets gunicorn's `--timeout` (`-t`) above the idle timeout, or
    /// the container is nginx and an nginx configuration of the same
    /// deployment unit sets `proxy_read_timeout` above it. A load balancer
    /// whose attributes or type are computed (`!Ref`, `!If`), a chain
    /// through an imported or computed value, a command with a computed
    /// word, and a timeout of `0` (none) are not judged.
    AlbIdleTimeoutBelowApp {
        code: "X016",
        name: "alb-idle-timeout-below-app",
        severity: Warning,
        fix: "raise the load balancer's `idle_timeout.timeout_seconds` attribute above the app's timeout (up to 4000 s), or lower the app's timeout below it",
    }
}

const LOAD_BALANCER: &str = "AWS::ElasticLoadBalancingV2::LoadBalancer";
const LISTENER: &str = "AWS::ElasticLoadBalancingV2::Listener";
const LISTENER_RULE: &str = "AWS::ElasticLoadBalancingV2::ListenerRule";
const ATTRIBUTE: &str = "idle_timeout.timeout_seconds";

/// The idle timeout of an Application Load Balancer, where the finding
/// points, and whether it is written: `None` when it is not known.
fn idle_timeout(lb: &Resource<'_>) -> Option<(i64, Span, bool)> {
    if !matches!(lb.string("Type"), Known::Absent | Known::Is("application")) {
        return None;
    }
    let attributes = match lb.property("LoadBalancerAttributes") {
        Known::Absent => Vec::new(),
        known => lb.maps(known)?,
    };
    let mut found = None;
    for attribute in attributes {
        match lb.string_in(attribute, "Key") {
            Known::Is(ATTRIBUTE) => {
                let Known::Is(seconds) = lb.int_in(attribute, "Value") else { return None };
                found = Some((seconds, key_span(attribute, "Value").unwrap_or(lb.id_span), true));
            }
            Known::Is(_) => {}
            // A computed key may be this one.
            Known::Absent | Known::Unknown => return None,
        }
    }
    Some(found.unwrap_or((60, lb.id_span, false)))
}

/// The target groups `actions` (a listener's `DefaultActions`, a rule's
/// `Actions`) forward to, by logical id.
fn target_groups<'a>(r: &Resource<'a>, actions: Known<&'a Node>) -> Vec<&'a str> {
    let mut out = Vec::new();
    for action in r.maps(actions).unwrap_or_default() {
        out.extend(r.names_in(action, "TargetGroupArn"));
        if let Known::Is(forward) = r.entry_in(action, "ForwardConfig") {
            for group in r.maps(r.entry_in(forward, "TargetGroups")).unwrap_or_default() {
                out.extend(r.names_in(group, "TargetGroupArn"));
            }
        }
    }
    out
}

/// gunicorn's request timeout in a container's command, when it is written
/// (`--timeout 120`, `--timeout=120`, `-t 120`); the last one counts.
fn gunicorn_timeout(command: &[String]) -> Option<u64> {
    let argv = expanded(command);
    let start = argv.iter().rposition(|w| w.rsplit('/').next() == Some("gunicorn"))?;
    match option(&argv[start + 1..], "--timeout", Some("-t")) {
        Setting::Value(value) => value.parse().ok().filter(|t| *t > 0),
        Setting::Absent | Setting::Unknown => None,
    }
}

/// Whether an image is nginx: `nginx:1.27`, `nginxinc/nginx-unprivileged:1.27`,
/// `public.ecr.aws/nginx/nginx:stable`, or an image of one's own named so
/// (`acme/shop-nginx`).
fn nginx_image(image: &str) -> bool {
    let repository = image.split_once('@').map_or(image, |(r, _)| r);
    let repository = match repository.rsplit_once(':') {
        Some((r, tag)) if !tag.contains('/') => r,
        _ => repository,
    };
    repository
        .rsplit('/')
        .next()
        .is_some_and(|name| matches!(name, "nginx" | "nginx-unprivileged") || name.ends_with("-nginx"))
}

/// The longest `proxy_read_timeout` written for a `proxy_pass` of an nginx
/// configuration in `unit`, with where it is written.
fn nginx_timeout(cx: &Context<'_>, unit: usize) -> Option<(u64, usize, Span)> {
    let mut best: Option<(u64, usize, Span)> = None;
    for config in cx.graph.nginx.iter().filter(|c| cx.graph.unit(c.file) == unit) {
        config.visit(&mut |d, ancestors| {
            if d.name != "proxy_pass" {
                return;
            }
            let Some((block, outer)) = ancestors.split_last() else { return };
            let Some(read) = effective("proxy_read_timeout", block, outer).last().copied() else { return };
            if let Some(s) = seconds(read)
                && best.is_none_or(|(b, _, _)| s > b)
            {
                best = Some((s, read.file, read.span));
            }
        });
    }
    best
}

/// The longest a container lets a request run, and what says so: gunicorn's
/// `--timeout` in its command, or nginx's `proxy_read_timeout` when the
/// container is nginx.
fn app_timeout<'a>(cx: &Context<'_>, task: &Resource<'a>, container: &'a Node, name: &str) -> Option<(u64, String)> {
    let mut command = Vec::new();
    let mut computed = false;
    for key in ["EntryPoint", "Command"] {
        match task.entry_in(container, key) {
            Known::Absent => {}
            Known::Is(list) => match task.literal_strings(list) {
                Some(list) => command.extend(list),
                None => computed = true,
            },
            Known::Unknown => computed = true,
        }
    }
    if !computed && let Some(timeout) = gunicorn_timeout(&command) {
        let span = key_span(container, "Command").or_else(|| key_span(container, "EntryPoint")).unwrap_or(task.id_span);
        let at = place(cx.files, task.file, span);
        return Some((timeout, format!("gunicorn in container `{name}` of `{}` ({at})", task.id)));
    }
    let nginx = match task.string_in(container, "Image") {
        Known::Is(image) => nginx_image(image),
        Known::Absent | Known::Unknown => false,
    };
    if !nginx {
        return None;
    }
    let (timeout, file, span) = nginx_timeout(cx, cx.graph.unit(task.file))?;
    let at = place(cx.files, file, span);
    Some((timeout, format!("nginx in container `{name}` of `{}` (`proxy_read_timeout` at {at})", task.id)))
}

impl Rule for AlbIdleTimeoutBelowApp {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for template in cx.graph.templates {
            let Some(file) = cx.files.get(template.file) else { continue };
            let resources = template.resources(&file.text);
            let task_named = |id: &str| resources.iter().find(|r| r.id == id && r.kind == "AWS::ECS::TaskDefinition");
            for lb in resources.iter().filter(|r| r.kind == LOAD_BALANCER) {
                let Some((idle, span, written)) = idle_timeout(lb) else { continue };
                // ALB -> listeners (and their rules) -> target groups.
                let listeners: Vec<&Resource<'_>> = resources
                    .iter()
                    .filter(|r| r.kind == LISTENER && r.names("LoadBalancerArn") == Some(lb.id))
                    .collect();
                let mut groups: Vec<&str> = Vec::new();
                for listener in &listeners {
                    groups.extend(target_groups(listener, listener.property("DefaultActions")));
                }
                for rule in resources.iter().filter(|r| r.kind == LISTENER_RULE) {
                    if listeners.iter().any(|l| rule.names("ListenerArn") == Some(l.id)) {
                        groups.extend(target_groups(rule, rule.property("Actions")));
                    }
                }
                // -> ECS services registered with them -> the container they name.
                let mut reported: Vec<(&str, &str)> = Vec::new();
                for service in resources.iter().filter(|r| r.kind == "AWS::ECS::Service") {
                    let Some(task) = service.names("TaskDefinition").and_then(task_named) else { continue };
                    let Some(definitions) = task.maps(task.property("ContainerDefinitions")) else { continue };
                    for registration in service.maps(service.property("LoadBalancers")).unwrap_or_default() {
                        if !service.names_in(registration, "TargetGroupArn").is_some_and(|g| groups.contains(&g)) {
                            continue;
                        }
                        let container = match service.string_in(registration, "ContainerName") {
                            Known::Is(name) => {
                                definitions.iter().copied().find(|d| task.string_in(d, "Name") == Known::Is(name))
                            }
                            _ if definitions.len() == 1 => definitions.first().copied(),
                            _ => None,
                        };
                        let Some(container) = container else { continue };
                        let Known::Is(name) = task.string_in(container, "Name") else { continue };
                        if reported.contains(&(task.id, name)) {
                            continue;
                        }
                        let Some((timeout, what)) = app_timeout(cx, task, container, name) else { continue };
                        if i64::try_from(timeout).is_ok_and(|t| t > idle) {
                            reported.push((task.id, name));
                            let default = if written { "" } else { " (the default)" };
                            sink.report(
                                lb.file,
                                span,
                                format!(
                                    "`{}` drops a request after {idle} s without a byte{default}, but {what} lets it run {timeout} s: the load balancer answers 504 while the app still works on it",
                                    lb.id
                                ),
                            );
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn gunicorn_timeouts() {
        assert_eq!(gunicorn_timeout(&command(&["gunicorn", "--timeout", "120", "app:app"])), Some(120));
        assert_eq!(gunicorn_timeout(&command(&["gunicorn", "--timeout=90", "-t", "300", "app:app"])), Some(300));
        assert_eq!(gunicorn_timeout(&command(&["sh", "-c", "exec gunicorn -t180 -b :8000 app:app"])), Some(180));
        assert_eq!(gunicorn_timeout(&command(&["gunicorn", "--timeout", "0", "app:app"])), None);
        assert_eq!(gunicorn_timeout(&command(&["gunicorn", "app:app"])), None);
        // Another program's `-t` before gunicorn's command line.
        assert_eq!(gunicorn_timeout(&command(&["sh", "-c", "wait-for -t 600 db:5432 && gunicorn app:app"])), None);
        assert_eq!(gunicorn_timeout(&command(&["uvicorn", "--timeout-keep-alive", "120", "app:app"])), None);
    }

    #[test]
    fn nginx_images() {
        assert!(nginx_image("nginx:1.27-alpine"));
        assert!(nginx_image("nginxinc/nginx-unprivileged:1.27"));
        assert!(nginx_image("public.ecr.aws/nginx/nginx:stable"));
        assert!(nginx_image("localhost:5000/nginx"));
        assert!(!nginx_image("ghcr.io/acme/web:1.4.2"));
        assert!(nginx_image("123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop-nginx:2.0"));
        assert!(!nginx_image("nginx/nginx-prometheus-exporter:1.1"));
    }
}
