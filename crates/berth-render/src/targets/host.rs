//! The host under the systemd target (`targets.systemd.host`), as files
//! under `host/`: an nftables table that lets in only SSH and the edge's
//! ports, kernel settings for a proxy host, a fail2ban jail on the edge's
//! access log (the nginx target's), and unattended security upgrades.
//! Each is checked by its own tool in the tests: `nft -c`, the running
//! kernel's sysctl names, `fail2ban-client -t` and `fail2ban-regex` on
//! lines a real nginx wrote, `apt-config`.

use std::fmt::Write as _;

use berth_plan::{Plan, replica_port};
use berth_spec::HostHardening;

use crate::{Output, header};

/// The access log the nginx target writes and the jail reads.
pub const ACCESS_LOG: &str = "/var/log/nginx/access.log";

/// The edge's refusals a client can cause on purpose: failed auth, a
/// denied address, a rate limit. A request line may hold escaped quotes;
/// fail2ban cuts the time out of the brackets before it matches.
pub const FAILREGEX: &str = r#"^<HOST> - \S+ \[[^\]]*\] "(?:[^"\\]|\\.)*" (?:401|403|429) "#;

pub(crate) fn render(plan: &Plan, host: &HostHardening, out: &mut Output) {
    out.file("host/nftables.conf", nftables(plan, host));
    out.file(format!("host/sysctl.d/90-{}.conf", plan.project), sysctl(plan));
    out.file(format!("host/fail2ban/filter.d/{}-edge.conf", plan.project), filter(plan));
    out.file(format!("host/fail2ban/jail.d/{}-edge.conf", plan.project), jail(plan, host));
    out.file(format!("host/apt/apt.conf.d/52{}-unattended-upgrades", plan.project), unattended(plan));
}

/// The ports clients reach: the edge's, which the nginx target listens on.
fn edge_ports(plan: &Plan) -> Vec<u16> {
    let mut ports: Vec<u16> = plan
        .edge
        .iter()
        .flat_map(|e| std::iter::once(e.listen.http).chain(e.tls.as_ref().map(|_| e.listen.https)))
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

fn table(plan: &Plan) -> String {
    let name: String = plan.project.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    format!("{name}_host")
}

fn nftables(plan: &Plan, host: &HostHardening) -> String {
    let t = table(plan);
    let ssh = host.ssh_port.unwrap_or(22);
    let mut n = header::comment("#", plan, "systemd");
    let _ = write!(
        n,
        "# Install: copy to /etc/nftables.d/{p}.nft (or include it from /etc/nftables.conf),
# then `nft -f` it and enable nftables.service. The table is the project's
# own: other tables (Docker's, the distribution's) are left alone, and a
# packet must pass every table's input chain.

# Replaced whole on every load.
table inet {t}
delete table inet {t}

table inet {t} {{
    chain input {{
        type filter hook input priority filter; policy drop;
        iif \"lo\" accept
        ct state established,related accept
        ct state invalid drop
        # Path MTU discovery and errors; pings, rate-limited.
        icmp type {{ destination-unreachable, time-exceeded, parameter-problem }} accept
        icmp type echo-request limit rate 10/second accept
        # IPv6 needs neighbour discovery to work at all.
        icmpv6 type {{ destination-unreachable, packet-too-big, time-exceeded, parameter-problem, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert }} accept
        icmpv6 type echo-request limit rate 10/second accept
",
        p = plan.project
    );
    let (v4, v6): (Vec<&String>, Vec<&String>) = host.ssh_from.iter().partition(|c| !c.contains(':'));
    if host.ssh_from.is_empty() {
        let _ = writeln!(n, "        tcp dport {ssh} accept");
    } else {
        if !v4.is_empty() {
            let list: Vec<&str> = v4.iter().map(|s| s.as_str()).collect();
            let _ = writeln!(n, "        ip saddr {{ {} }} tcp dport {ssh} accept", list.join(", "));
        }
        if !v6.is_empty() {
            let list: Vec<&str> = v6.iter().map(|s| s.as_str()).collect();
            let _ = writeln!(n, "        ip6 saddr {{ {} }} tcp dport {ssh} accept", list.join(", "));
        }
    }
    let ports = edge_ports(plan);
    if !ports.is_empty() {
        let list: Vec<String> = ports.iter().map(u16::to_string).collect();
        let _ = writeln!(n, "        # The edge (nginx); its admin port stays on loopback.");
        let _ = writeln!(n, "        tcp dport {{ {} }} accept", list.join(", "));
    }
    n.push_str("    }\n}\n");
    n
}

fn sysctl(plan: &Plan) -> String {
    // Outgoing connections' ports start above every port a replica listens
    // on, so the kernel never hands one of them to a client socket.
    let highest = plan
        .services
        .iter()
        .flat_map(|s| {
            let replicas = s.replicas.initial().max(1);
            s.ports.iter().map(move |p| replica_port(p.port, replicas - 1))
        })
        .chain(edge_ports(plan))
        .max()
        .unwrap_or(0);
    let first = u32::from(highest).max(10_239) + 1;
    let mut s = header::comment("#", plan, "systemd");
    let _ = write!(
        s,
        "# Install: copy to /etc/sysctl.d/, then `sysctl --system`.

# A proxy host: deep accept queues, many short connections to the services.
net.core.somaxconn = 4096
net.core.netdev_max_backlog = 16384
net.ipv4.tcp_max_syn_backlog = 8192
net.ipv4.tcp_syncookies = 1
net.ipv4.tcp_fin_timeout = 15
net.ipv4.tcp_tw_reuse = 1
net.ipv4.ip_local_port_range = {first} 65535

# No routing tricks from the network.
net.ipv4.conf.all.rp_filter = 1
net.ipv4.conf.default.rp_filter = 1
net.ipv4.conf.all.accept_redirects = 0
net.ipv4.conf.default.accept_redirects = 0
net.ipv6.conf.all.accept_redirects = 0
net.ipv6.conf.default.accept_redirects = 0
net.ipv4.conf.all.send_redirects = 0
net.ipv4.conf.all.accept_source_route = 0
net.ipv6.conf.all.accept_source_route = 0
net.ipv4.icmp_echo_ignore_broadcasts = 1

# Less for a local attacker to learn.
kernel.kptr_restrict = 2
kernel.dmesg_restrict = 1
fs.protected_symlinks = 1
fs.protected_hardlinks = 1
"
    );
    s
}

fn filter(plan: &Plan) -> String {
    let mut f = header::comment("#", plan, "systemd");
    let _ = write!(
        f,
        "# Install: copy to /etc/fail2ban/filter.d/.
# A refusal by the edge: failed auth (401), a denied address (403), a rate
# limit (429), in the nginx target's access log.

[Definition]
failregex = {FAILREGEX}
ignoreregex =
"
    );
    f
}

fn jail(plan: &Plan, host: &HostHardening) -> String {
    let p = &plan.project;
    let ports: Vec<String> = edge_ports(plan).iter().map(u16::to_string).collect();
    let window = host.ban_window.map_or(60, |d| d.ceil_secs());
    let ban = host.ban_time.map_or(600, |d| d.ceil_secs());
    let mut j = header::comment("#", plan, "systemd");
    let _ = write!(
        j,
        "# Install: copy to /etc/fail2ban/jail.d/, then `systemctl reload fail2ban`.

[{p}-edge]
enabled = true
filter = {p}-edge
logpath = {ACCESS_LOG}
backend = auto
port = {ports}
maxretry = {retries}
findtime = {window}
bantime = {ban}
banaction = nftables[type=multiport]
",
        ports = if ports.is_empty() { "http,https".to_owned() } else { ports.join(",") },
        retries = host.ban_after.unwrap_or(30),
    );
    j
}

fn unattended(plan: &Plan) -> String {
    let mut u = header::comment("//", plan, "systemd");
    u.push_str(
        "// Install (Debian, with the unattended-upgrades package): copy to /etc/apt/apt.conf.d/.
// Security updates only, every day; the host is not rebooted by itself.
APT::Periodic::Update-Package-Lists \"1\";
APT::Periodic::Unattended-Upgrade \"1\";
APT::Periodic::AutocleanInterval \"7\";
Unattended-Upgrade::Origins-Pattern {
    \"origin=Debian,codename=${distro_codename}-security,label=Debian-Security\";
    \"origin=Debian,codename=${distro_codename},label=Debian-Security\";
};
Unattended-Upgrade::Remove-Unused-Dependencies \"true\";
Unattended-Upgrade::Automatic-Reboot \"false\";
",
    );
    u
}
