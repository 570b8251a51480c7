//! `cidrhost`, `cidrnetmask` and `cidrsubnet` for IPv4 and IPv6 prefixes.
//!
//! Addresses are held as `u128` with their bit width (32 or 128), so one piece
//! of arithmetic serves both families.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{Fail, FuncContext, int_arg, string_arg};
use crate::lang::value::Value;

/// A parsed `address/length`, with the address already masked to the network.
struct Prefix {
    network: u128,
    length: u32,
    bits: u32,
}

impl Prefix {
    fn parse(s: &str) -> Option<Prefix> {
        let (address, length) = s.split_once('/')?;
        let length: u32 = length.parse().ok()?;
        let (address, bits) = match address.parse::<IpAddr>().ok()? {
            IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
            IpAddr::V6(v6) => (u128::from(v6), 128),
        };
        if length > bits {
            return None;
        }
        Some(Prefix {
            network: address & mask(length, bits),
            length,
            bits,
        })
    }

    fn address_text(&self, address: u128) -> String {
        if self.bits == 32 {
            Ipv4Addr::from(address as u32).to_string()
        } else {
            Ipv6Addr::from(address).to_string()
        }
    }
}

/// The mask of `length` leading one bits in a `bits`-wide address.
fn mask(length: u32, bits: u32) -> u128 {
    if length == 0 {
        return 0;
    }
    let all = if bits == 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    };
    all & (u128::MAX << (bits - length))
}

fn prefix_arg(args: &[Value]) -> Result<Prefix, Fail> {
    let s = string_arg(args, 0)?;
    Prefix::parse(&s).ok_or_else(|| {
        Fail::call(format!(
            "invalid CIDR expression: invalid CIDR address: {s}"
        ))
    })
}

pub(super) fn cidrhost(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let prefix = prefix_arg(&args)?;
    let hostnum = int_arg(&args, 1)?;
    let host_bits = prefix.bits - prefix.length;
    let n_hosts: i128 = if host_bits >= 127 {
        i128::MAX
    } else {
        1i128 << host_bits
    };
    let offset = if hostnum < 0 {
        n_hosts + i128::from(hostnum)
    } else {
        i128::from(hostnum)
    };
    if offset < 0 || offset >= n_hosts {
        return Err(Fail::call(format!(
            "prefix of {} does not accommodate a host numbered {hostnum}",
            prefix.length
        )));
    }
    Ok(Value::String(
        prefix.address_text(prefix.network | offset as u128),
    ))
}

pub(super) fn cidrnetmask(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let prefix = prefix_arg(&args)?;
    if prefix.bits != 32 {
        return Err(Fail::call(format!(
            "IPv6 addresses cannot have a netmask: {}",
            string_arg(&args, 0)?
        )));
    }
    Ok(Value::String(prefix.address_text(mask(prefix.length, 32))))
}

pub(super) fn cidrsubnet(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let prefix = prefix_arg(&args)?;
    let newbits = int_arg(&args, 1)?;
    let netnum = int_arg(&args, 2)?;
    let new_length = i64::from(prefix.length) + newbits;
    if newbits < 0 || new_length > i64::from(prefix.bits) {
        return Err(Fail::call(format!(
            "insufficient address space to extend prefix of {} by {newbits}",
            prefix.length
        )));
    }
    let new_length = new_length as u32;
    let max_netnum: i128 = if newbits >= 127 {
        i128::MAX
    } else {
        1i128 << newbits
    };
    if netnum < 0 || i128::from(netnum) >= max_netnum {
        return Err(Fail::call(format!(
            "prefix extension of {newbits} does not accommodate a subnet numbered {netnum}"
        )));
    }
    let network = prefix.network | ((netnum as u128) << (prefix.bits - new_length));
    Ok(Value::String(format!(
        "{}/{new_length}",
        prefix.address_text(network)
    )))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    use super::*;

    fn check(name: &str, args: Vec<Value>, expected: Result<&str, &str>) {
        assert_eq!(
            call_str(name, args),
            expected.map(Value::string).map_err(str::to_string)
        );
    }

    #[test]
    fn host_in_ipv4() {
        check(
            "cidrhost",
            vec![s("10.12.112.0/20"), i(16)],
            Ok("10.12.112.16"),
        );
    }

    #[test]
    fn host_from_the_end() {
        check(
            "cidrhost",
            vec![s("10.12.112.0/20"), i(-1)],
            Ok("10.12.127.255"),
        );
    }

    #[test]
    fn host_out_of_range() {
        check(
            "cidrhost",
            vec![s("10.0.0.0/30"), i(4)],
            Err(
                "Call to function \"cidrhost\" failed: prefix of 30 does not accommodate a host numbered 4",
            ),
        );
    }

    #[test]
    fn host_in_ipv6() {
        check(
            "cidrhost",
            vec![s("fd00:fd12:3456:7890::/56"), i(34)],
            Ok("fd00:fd12:3456:7800::22"),
        );
    }

    #[test]
    fn host_masks_the_prefix() {
        check("cidrhost", vec![s("10.0.0.1/8"), i(0)], Ok("10.0.0.0"));
    }

    #[test]
    fn netmask() {
        check("cidrnetmask", vec![s("172.16.0.0/12")], Ok("255.240.0.0"));
    }

    #[test]
    fn netmask_zero_length() {
        check("cidrnetmask", vec![s("0.0.0.0/0")], Ok("0.0.0.0"));
    }

    #[test]
    fn subnet_ipv4() {
        check(
            "cidrsubnet",
            vec![s("172.16.0.0/12"), i(4), i(2)],
            Ok("172.18.0.0/16"),
        );
    }

    #[test]
    fn subnet_ipv6() {
        check(
            "cidrsubnet",
            vec![s("fd00:fd12:3456:7890::/56"), i(16), i(162)],
            Ok("fd00:fd12:3456:7800:a200::/72"),
        );
    }

    #[test]
    fn subnet_number_too_big() {
        check(
            "cidrsubnet",
            vec![s("10.1.2.0/24"), i(4), i(16)],
            Err(
                "Call to function \"cidrsubnet\" failed: prefix extension of 4 does not accommodate a subnet numbered 16",
            ),
        );
    }

    #[test]
    fn subnet_too_long() {
        check(
            "cidrsubnet",
            vec![s("10.0.0.0/30"), i(3), i(0)],
            Err(
                "Call to function \"cidrsubnet\" failed: insufficient address space to extend prefix of 30 by 3",
            ),
        );
    }

    #[test]
    fn invalid_prefix() {
        check(
            "cidrsubnet",
            vec![s("nope"), i(1), i(0)],
            Err(
                "Call to function \"cidrsubnet\" failed: invalid CIDR expression: invalid CIDR address: nope",
            ),
        );
    }
}
