use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// systemd keeps accepting old directives for cgroup v1 and earlier
    /// releases, but on cgroup v2 (every current distribution) some map
    /// poorly or not at all: `MemoryLimit=` is not the hard limit the
    /// author meant to set, `CPUShares=` uses a different scale. Newer
    /// releases warn on each load and drop them eventually.
    DeprecatedDirective {
        code: "U003",
        name: "deprecated-directive",
        severity: Warning,
        fix: "use the replacement named in the message",
    }
}

/// (section, directive, replacement)
const DEPRECATED: [(&str, &str, &str); 10] = [
    ("Service", "MemoryLimit", "MemoryMax="),
    ("Service", "CPUShares", "CPUWeight="),
    ("Service", "StartupCPUShares", "StartupCPUWeight="),
    ("Service", "BlockIOWeight", "IOWeight="),
    ("Service", "BlockIODeviceWeight", "IODeviceWeight="),
    ("Service", "BlockIOReadBandwidth", "IOReadBandwidthMax="),
    ("Service", "BlockIOWriteBandwidth", "IOWriteBandwidthMax="),
    ("Service", "PermissionsStartOnly", "the `+` prefix on the ExecStartPre= lines that need privileges"),
    ("Service", "StartLimitInterval", "StartLimitIntervalSec= in [Unit]"),
    ("Service", "StartLimitBurst", "StartLimitBurst= in [Unit]"),
];

impl Rule for DeprecatedDirective {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for unit in cx.graph.units {
            for (section, key, replacement) in DEPRECATED {
                for s in unit.get(section, key) {
                    sink.report(unit.file, s.key_span, format!("`{key}=` is deprecated; use {replacement}"));
                }
            }
        }
    }
}
