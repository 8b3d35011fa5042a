use crate::graph::place;
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// nginx inherits `add_header` into a `server`, `location` or `if`
    /// block only when that block sets no `add_header` of its own. One
    /// `add_header Cache-Control ...` in a location silently drops every
    /// security header (HSTS, `X-Frame-Options`, CSP) set above it, for
    /// exactly the responses that location serves.
    AddHeaderInheritance {
        code: "N001",
        name: "add-header-inheritance",
        severity: Error,
        fix: "repeat the enclosing block's headers here (an `include` of one headers snippet keeps them in step), or use `add_header_inherit merge;` on nginx 1.29.3 and later",
    }
}

impl Rule for AddHeaderInheritance {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for config in &cx.graph.nginx {
            config.visit(&mut |block, ancestors| {
                if block.block.is_none() {
                    return;
                }
                let own: Vec<_> = block.own("add_header").collect();
                let Some(first) = own.first() else { return };
                let merged = std::iter::once(block)
                    .chain(ancestors.iter().rev().copied())
                    .find_map(|b| b.own("add_header_inherit").next())
                    .is_some_and(|d| d.arg(0) == Some("merge"));
                if merged {
                    return;
                }
                let Some(parent) = ancestors.iter().rev().find(|a| a.own("add_header").next().is_some()) else {
                    return;
                };
                let lost: Vec<String> = parent
                    .own("add_header")
                    .filter_map(|h| h.arg(0))
                    .filter(|name| !own.iter().any(|o| o.arg(0).is_some_and(|n| n.eq_ignore_ascii_case(name))))
                    .map(|name| format!("`{name}`"))
                    .collect();
                if lost.is_empty() {
                    return;
                }
                let where_set = parent.own("add_header").next().map_or(parent.span, |h| h.span);
                sink.report(
                    first.file,
                    first.span,
                    format!(
                        "this `{}` sets its own headers, so {} from `{}` ({}) are not sent for it",
                        block.title(),
                        lost.join(", "),
                        parent.title(),
                        place(cx.files, parent_file(parent), where_set)
                    ),
                );
            });
        }
    }
}

fn parent_file(parent: &crate::graph::Directive) -> usize {
    parent.own("add_header").next().map_or(parent.file, |h| h.file)
}
