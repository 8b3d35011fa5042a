use crate::graph::cloudformation::{Known, Resource};
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// A load balancer that has an HTTPS listener but also forwards plain
    /// HTTP to the application serves every `http://` link, bookmark and
    /// typed address unencrypted: session cookies and form posts cross the
    /// network in clear text, and HSTS never gets a chance to be set. The
    /// port 80 listener should answer with a redirect to HTTPS. Reported for
    /// an `AWS::ElasticLoadBalancingV2::Listener` on `HTTP` whose default
    /// actions forward, when the same load balancer (`LoadBalancerArn`
    /// written the same way) has an `HTTPS` listener; a load balancer that
    /// serves HTTP only is not judged.
    HttpListenerForwards {
        code: "A005",
        name: "http-listener-forwards",
        severity: Warning,
        fix: "give the HTTP listener a `redirect` default action (`Protocol: HTTPS`, `Port: 443`, `StatusCode: HTTP_301`)",
    }
}

const LISTENER: &str = "AWS::ElasticLoadBalancingV2::Listener";

/// What a listener's default actions do: `Some(true)` when they forward
/// (and do not redirect), `None` when that is not known.
fn forwards(r: &Resource<'_>) -> Option<bool> {
    let actions = r.maps(r.property("DefaultActions"))?;
    let mut forward = false;
    for action in actions {
        match r.string_in(action, "Type") {
            Known::Is("redirect") => return Some(false),
            Known::Is("forward") => forward = true,
            Known::Is(_) => {}
            Known::Absent | Known::Unknown => return None,
        }
    }
    Some(forward)
}

impl Rule for HttpListenerForwards {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for template in cx.graph.templates {
            let Some(file) = cx.files.get(template.file) else { continue };
            let listeners: Vec<Resource<'_>> =
                template.resources(&file.text).into_iter().filter(|r| r.kind == LISTENER).collect();
            for http in listeners.iter().filter(|r| r.string("Protocol") == Known::Is("HTTP")) {
                let https = listeners
                    .iter()
                    .find(|r| r.string("Protocol") == Known::Is("HTTPS") && r.same_property(http, "LoadBalancerArn"));
                let Some(https) = https else { continue };
                if forwards(http) == Some(true) {
                    sink.report(
                        http.file,
                        http.span("DefaultActions"),
                        format!(
                            "`{}` forwards plain HTTP to the application although `{}` serves HTTPS on the same load \
                             balancer",
                            http.id, https.id
                        ),
                    );
                }
            }
        }
    }
}
