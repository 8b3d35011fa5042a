use crate::graph::yaml::{at, seq};
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// Some capabilities are root in all but name: `SYS_ADMIN` (mounts,
    /// namespaces), `NET_ADMIN`, `SYS_PTRACE`, `SYS_MODULE`, `DAC_OVERRIDE`,
    /// `NET_RAW` (spoofing), and `ALL`.
    DangerousCapabilities {
        code: "K011",
        name: "dangerous-capabilities",
        severity: Error,
        fix: "drop `ALL` and add back only what the process needs (often nothing, or `NET_BIND_SERVICE`)",
    }
}

const DANGEROUS: [&str; 9] =
    ["ALL", "SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYS_MODULE", "DAC_OVERRIDE", "NET_RAW", "SYS_RAWIO", "BPF"];

impl Rule for DangerousCapabilities {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for w in &cx.graph.workloads {
            let file = cx.graph.objects[w.object].file;
            for c in &w.containers {
                for cap in seq(at(c.node, &["securityContext", "capabilities", "add"])) {
                    let Some(name) = cap.as_str() else { continue };
                    let bare = name.trim_start_matches("CAP_").to_ascii_uppercase();
                    if DANGEROUS.contains(&bare.as_str()) {
                        sink.report(file, cap.span, format!("container `{}` adds the capability {name}", c.name));
                    }
                }
            }
        }
    }
}
