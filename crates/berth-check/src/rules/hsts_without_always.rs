use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// Without the `always` parameter nginx adds a header only to 200, 201,
    /// 204, 206, 301, 302, 303, 304, 307 and 308 responses. HSTS then
    /// disappears from error pages and from the app's own 4xx/5xx answers,
    /// which browsers and scanners (and PCI audits) notice.
    HstsWithoutAlways {
        code: "N005",
        name: "hsts-without-always",
        severity: Warning,
        fix: "add `always`: `add_header Strict-Transport-Security \"max-age=63072000; includeSubDomains\" always;`",
    }
}

impl Rule for HstsWithoutAlways {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for config in &cx.graph.nginx {
            for d in config.all("add_header") {
                if d.arg(0).is_some_and(|n| n.eq_ignore_ascii_case("strict-transport-security"))
                    && d.arg(2) != Some("always")
                {
                    sink.report(
                        d.file,
                        d.span,
                        "`Strict-Transport-Security` without `always` is left off error responses",
                    );
                }
            }
        }
    }
}
