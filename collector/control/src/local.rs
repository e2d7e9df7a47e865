//! The addresses of this host's own network interfaces, read from the system (getifaddrs, through
//! the `if-addrs` crate) at start and again whenever the last reading is older than the refresh
//! interval, so the control never connects to its own host, whatever address it listens on.

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How old a reading of the interfaces may get before the next check reads them again.
/// getifaddrs costs tens of microseconds, so this bounds the cost, not the protection: an address
/// added to the host is refused at most this long after it appeared.
pub const INTERFACE_REFRESH: Duration = Duration::from_secs(5);

/// Where the interface addresses come from: the system in the field, a fixed list in tests.
pub trait InterfaceSource: Send + Sync + 'static {
    /// Every address of every interface of this host, now.
    fn addresses(&self) -> io::Result<Vec<IpAddr>>;
}

/// The operating system's interfaces (getifaddrs).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemInterfaces;

impl InterfaceSource for SystemInterfaces {
    fn addresses(&self) -> io::Result<Vec<IpAddr>> {
        Ok(if_addrs::get_if_addrs()?.into_iter().map(|i| i.ip()).collect())
    }
}

impl<F> InterfaceSource for F
where
    F: Fn() -> io::Result<Vec<IpAddr>> + Send + Sync + 'static,
{
    fn addresses(&self) -> io::Result<Vec<IpAddr>> {
        self()
    }
}

/// The host's interface addresses, cached for [`INTERFACE_REFRESH`] (or the given interval).
pub struct LocalAddresses {
    source: Box<dyn InterfaceSource>,
    refresh: Duration,
    cache: Mutex<Reading>,
}

struct Reading {
    at: Instant,
    addrs: Arc<[IpAddr]>,
}

impl fmt::Debug for LocalAddresses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("LocalAddresses").field("refresh", &self.refresh).field("addrs", &cache.addrs).finish()
    }
}

impl LocalAddresses {
    /// The system's interfaces, read now: an error here means the control cannot know its own
    /// addresses, and must not start.
    pub fn system() -> io::Result<LocalAddresses> {
        LocalAddresses::new(SystemInterfaces, INTERFACE_REFRESH)
    }

    /// Addresses from `source`, read now and again when a reading is older than `refresh`.
    pub fn new(source: impl InterfaceSource, refresh: Duration) -> io::Result<LocalAddresses> {
        let addrs: Arc<[IpAddr]> = source.addresses()?.into();
        let cache = Mutex::new(Reading { at: Instant::now(), addrs });
        Ok(LocalAddresses { source: Box::new(source), refresh, cache })
    }

    /// The addresses of the moment. A failed re-reading keeps the previous list (never an empty
    /// one) and is tried again at the next check.
    pub fn current(&self) -> Arc<[IpAddr]> {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.at.elapsed() >= self.refresh
            && let Ok(addrs) = self.source.addresses()
        {
            *cache = Reading { at: Instant::now(), addrs: addrs.into() };
        }
        cache.addrs.clone()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn the_system_lists_loopback() {
        let local = LocalAddresses::system().expect("getifaddrs works here");
        let addrs = local.current();
        assert!(addrs.iter().any(IpAddr::is_loopback), "{addrs:?}");
    }

    #[test]
    fn addresses_are_read_again_once_stale_and_kept_when_a_reading_fails() {
        let reads = Arc::new(AtomicUsize::new(0));
        let counter = reads.clone();
        let source = move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            match n {
                0 => Ok(vec!["192.0.2.1".parse().unwrap()]),
                1 => Err(io::Error::other("netlink hiccup")),
                _ => Ok(vec!["192.0.2.2".parse().unwrap()]),
            }
        };
        let fresh = LocalAddresses::new(source.clone(), Duration::from_secs(3600)).unwrap();
        assert_eq!(&*fresh.current(), &["192.0.2.1".parse::<IpAddr>().unwrap()]);
        assert_eq!(reads.load(Ordering::SeqCst), 1, "a fresh reading is not repeated");

        reads.store(0, Ordering::SeqCst);
        let stale = LocalAddresses::new(source, Duration::ZERO).unwrap();
        assert_eq!(&*stale.current(), &["192.0.2.1".parse::<IpAddr>().unwrap()], "a failed reading keeps the list");
        assert_eq!(&*stale.current(), &["192.0.2.2".parse::<IpAddr>().unwrap()], "the next one replaces it");
    }
}
