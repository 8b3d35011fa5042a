//! IP allowlist entries: an address or a CIDR range.

use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    bits: u8,
}

impl Cidr {
    pub fn parse(text: &str) -> Option<Self> {
        let (addr, bits) = match text.split_once('/') {
            Some((a, b)) => (a.parse::<IpAddr>().ok()?, b.parse::<u8>().ok()?),
            None => {
                let a = text.parse::<IpAddr>().ok()?;
                (a, if a.is_ipv4() { 32 } else { 128 })
            }
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        (bits <= max).then_some(Self { addr, bits })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                mask(u128::from(u32::from(net)), u128::from(u32::from(ip)), self.bits, 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => mask(u128::from(net), u128::from(ip), self.bits, 128),
            _ => false,
        }
    }
}

fn mask(net: u128, ip: u128, bits: u8, width: u32) -> bool {
    if bits == 0 {
        return true;
    }
    let shift = width - u32::from(bits);
    (net >> shift) == (ip >> shift)
}

#[cfg(test)]
mod tests {
    use super::Cidr;

    #[test]
    fn ranges_and_single_addresses() {
        let net = Cidr::parse("10.0.0.0/8").unwrap_or_else(|| panic!());
        assert!(net.contains("10.1.2.3".parse().unwrap_or_else(|_| panic!())));
        assert!(!net.contains("11.0.0.1".parse().unwrap_or_else(|_| panic!())));
        let one = Cidr::parse("127.0.0.1").unwrap_or_else(|| panic!());
        assert!(one.contains("::ffff:127.0.0.1".parse().unwrap_or_else(|_| panic!())));
        assert!(Cidr::parse("::1").is_some_and(|c| c.contains("::1".parse().unwrap_or_else(|_| panic!()))));
        assert!(Cidr::parse("10.0.0.0/33").is_none());
    }
}
