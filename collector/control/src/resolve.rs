//! Name resolution for the control: the [`Resolver`] seam (the system resolver in the collector,
//! a fake zone in tests) and the policy-checking resolver the HTTP client uses for every hop.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use vigil_report::Failure;

use crate::policy::{Refusal, TargetPolicy};

/// Resolves names for the control. The collector uses the system resolver; tests use a fake zone.
pub trait Resolver: Send + Sync + 'static {
    /// The addresses of `host` (a name, never an IP literal), or the OONI failure label.
    fn resolve(&self, host: &str) -> BoxFuture<'_, Result<Vec<IpAddr>, Failure>>;
}

/// The operating system's resolver (getaddrinfo, on a blocking thread).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn resolve(&self, host: &str) -> BoxFuture<'_, Result<Vec<IpAddr>, Failure>> {
        let host = host.to_string();
        Box::pin(async move {
            let lookup = tokio::task::spawn_blocking(move || dns_lookup::lookup_host(&host));
            match lookup.await {
                Ok(Ok(addrs)) => Ok(addrs.collect()),
                Ok(Err(e)) => Err(vigil_failure::from_getaddrinfo(e)),
                Err(join) => Err(vigil_failure::from_join(&join)),
            }
        })
    }
}

/// `resolver`'s answer for `host` within `timeout`, without duplicates; an empty answer is
/// `dns_no_answer`.
pub(crate) async fn lookup(resolver: &dyn Resolver, host: &str, timeout: Duration) -> Result<Vec<IpAddr>, Failure> {
    let addrs = match tokio::time::timeout(timeout, resolver.resolve(host)).await {
        Ok(result) => result?,
        Err(_) => return Err(Failure::GenericTimeout),
    };
    let mut unique: Vec<IpAddr> = Vec::with_capacity(addrs.len());
    for ip in addrs {
        if !unique.contains(&ip) {
            unique.push(ip);
        }
    }
    if unique.is_empty() { Err(Failure::DnsNoAnswer) } else { Ok(unique) }
}

/// Why the control did not connect somewhere: the policy refused every address.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Refused(pub Refusal);

/// Why none of `ips` may be connected to: [`Refusal::OwnAddress`] if any is the host's own.
pub(crate) fn refusal(policy: &TargetPolicy, ips: impl IntoIterator<Item = IpAddr>) -> Refusal {
    let own = ips.into_iter().any(|ip| policy.check(ip) == Err(Refusal::OwnAddress));
    if own { Refusal::OwnAddress } else { Refusal::NotPublic }
}

/// A name the resolver could not resolve, carried through reqwest's error chain.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct DnsFailure(pub Failure);

/// The resolver reqwest uses for every name it meets (redirect targets included): only the
/// addresses the policy allows come out, and a name with none fails with [`Refused`].
pub(crate) struct PolicyResolver {
    pub resolver: Arc<dyn Resolver>,
    pub policy: TargetPolicy,
    pub timeout: Duration,
}

impl reqwest::dns::Resolve for PolicyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let resolver = self.resolver.clone();
        let policy = self.policy.clone();
        let timeout = self.timeout;
        Box::pin(async move {
            let addrs = lookup(resolver.as_ref(), name.as_str(), timeout).await.map_err(DnsFailure)?;
            let allowed: Vec<SocketAddr> =
                addrs.iter().filter(|ip| policy.allows(**ip)).map(|ip| SocketAddr::new(*ip, 0)).collect();
            if allowed.is_empty() {
                return Err(Refused(refusal(&policy, addrs)).into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_system_resolver_answers_ip_literals_and_localhost() {
        let addrs = SystemResolver.resolve("127.0.0.1").await.unwrap();
        assert_eq!(addrs, vec!["127.0.0.1".parse::<IpAddr>().unwrap()]);
    }
}
