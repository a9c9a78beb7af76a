//! Resource policies (REST APIs): who may invoke which method ARNs from where, checked before
//! anything else authorizes the request, as AWS orders it. An explicit `Deny` that matches wins;
//! otherwise a matching `Allow` is needed (a request to an `AWS_IAM` route is allowed by its
//! credential unless denied). A denial is AWS's
//! `403 User: anonymous is not authorized to perform: execute-api:Invoke on resource: <arn>`
//! (`... with an explicit deny`).
//!
//! The source address is the peer's, unless the peer is one of `trusted_proxies`: then the
//! `X-Forwarded-For` address nearest to the gateway that is not itself a trusted proxy.
//!
//! Pure. Cost: the method ARN is formatted once per request of an API with a policy, and matched
//! against each statement's patterns.

use std::net::IpAddr;

use crate::auth::function::policy::glob;
use crate::table::auth::ResourcePolicy;

/// What the policy says of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Nothing allows it.
    ImplicitDeny,
    ExplicitDeny,
}

pub fn evaluate(policy: &ResourcePolicy, method_arn: &str, source: IpAddr) -> Decision {
    let applies = |s: &&crate::table::auth::PolicyStatement| {
        s.resources.iter().any(|r| glob(r.as_bytes(), method_arn.as_bytes()))
            && s.source_ip.iter().all(|(negated, nets)| nets.iter().any(|n| n.contains(&source)) != *negated)
    };
    if policy.statements.iter().filter(|s| !s.allow).any(|s| applies(&s)) {
        Decision::ExplicitDeny
    } else if policy.statements.iter().filter(|s| s.allow).any(|s| applies(&s)) {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

/// The request's source address: the peer, or — from a trusted proxy — the nearest
/// `X-Forwarded-For` entry that is not a trusted proxy too.
pub fn source_ip<'v>(peer: IpAddr, forwarded_for: impl Iterator<Item = &'v [u8]>, trusted: &[ipnet::IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted.iter().any(|n| n.contains(&peer)) {
        return peer;
    }
    let mut entries: Vec<IpAddr> = Vec::new();
    for value in forwarded_for {
        for part in value.split(|&b| b == b',') {
            let text = std::str::from_utf8(crate::http::trim(part)).unwrap_or("");
            match text.parse::<IpAddr>() {
                Ok(ip) => entries.push(ip.to_canonical()),
                // An entry that is not an address ends what can be believed.
                Err(_) => entries.clear(),
            }
        }
    }
    let mut source = peer;
    for ip in entries.into_iter().rev() {
        source = ip;
        if !trusted.iter().any(|n| n.contains(&ip)) {
            break;
        }
    }
    source
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::auth::PolicyStatement;

    fn nets(list: &[&str]) -> Vec<ipnet::IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn explicit_deny_wins_and_conditions_narrow() {
        let policy = ResourcePolicy {
            statements: vec![
                PolicyStatement {
                    allow: true,
                    resources: vec!["arn:aws:execute-api:*:*:shop/*".into()],
                    source_ip: vec![],
                },
                PolicyStatement {
                    allow: false,
                    resources: vec!["arn:aws:execute-api:*:*:shop/*/DELETE/*".into()],
                    source_ip: vec![(true, nets(&["10.0.0.0/8", "2001:db8::/32"]))],
                },
            ],
        };
        let arn = |m: &str| format!("arn:aws:execute-api:us-east-1:123456789012:shop/prod/{m}/pets");
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(evaluate(&policy, &arn("GET"), ip("192.0.2.1")), Decision::Allow);
        assert_eq!(evaluate(&policy, &arn("DELETE"), ip("192.0.2.1")), Decision::ExplicitDeny);
        assert_eq!(evaluate(&policy, &arn("DELETE"), ip("10.1.2.3")), Decision::Allow);
        assert_eq!(evaluate(&policy, &arn("DELETE"), ip("2001:db8::7")), Decision::Allow);
        assert_eq!(
            evaluate(&policy, "arn:aws:execute-api:us-east-1:123456789012:other/prod/GET/x", ip("10.1.2.3")),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = nets(&["10.0.0.0/8"]);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let xff: [&[u8]; 1] = [b"203.0.113.9, 10.0.0.2"];
        assert_eq!(source_ip(ip("192.0.2.1"), xff.into_iter(), &trusted), ip("192.0.2.1"), "untrusted peer");
        assert_eq!(source_ip(ip("10.0.0.1"), xff.into_iter(), &trusted), ip("203.0.113.9"));
        let spoofed: [&[u8]; 2] = [b"1.1.1.1", b"198.51.100.4"];
        assert_eq!(
            source_ip(ip("10.0.0.1"), spoofed.into_iter(), &trusted),
            ip("198.51.100.4"),
            "the nearest untrusted"
        );
        let garbage: [&[u8]; 1] = [b"1.1.1.1, nonsense"];
        assert_eq!(source_ip(ip("10.0.0.1"), garbage.into_iter(), &trusted), ip("10.0.0.1"));
        assert_eq!(source_ip(ip("::ffff:10.0.0.1"), xff.into_iter(), &trusted), ip("203.0.113.9"), "mapped IPv4");
    }
}
