use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// `limit_req_zone` defines shared memory for rate limiting and is only
    /// valid directly in `http`; `limit_req` must name a zone defined that
    /// way. Either mistake stops nginx from loading the configuration, and
    /// usually surfaces only at deploy time, when `nginx -t` finally runs.
    LimitReqZone {
        code: "N002",
        name: "limit-req-zone",
        severity: Error,
        fix: "define `limit_req_zone $binary_remote_addr zone=NAME:10m rate=10r/s;` in `http` and refer to it as `limit_req zone=NAME;`",
    }
}

impl Rule for LimitReqZone {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for config in &cx.graph.nginx {
            let zones: Vec<&str> = config
                .all("limit_req_zone")
                .into_iter()
                .flat_map(|d| d.args.iter())
                .filter_map(|a| a.text.strip_prefix("zone="))
                .filter_map(|z| z.split(':').next())
                .collect();
            config.visit(&mut |d, ancestors| {
                let parent = ancestors.last().map_or("main", |p| p.name.as_str());
                if d.name == "limit_req_zone" && parent != "http" {
                    sink.report(
                        d.file,
                        d.span,
                        format!("`limit_req_zone` inside `{parent}`: nginx accepts it only directly in `http`"),
                    );
                }
                if d.name == "limit_req" {
                    for arg in &d.args {
                        if let Some(zone) = arg.text.strip_prefix("zone=")
                            && !zones.contains(&zone)
                        {
                            sink.report(
                                d.file,
                                arg.span,
                                format!("`limit_req` uses zone `{zone}`, which no `limit_req_zone` defines"),
                            );
                        }
                    }
                }
            });
        }
    }
}
