//! A token bucket: `per_minute` events a minute on average, bursts of up to `per_minute`.

use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct TokenBucket {
    capacity: f64,
    per_second: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn per_minute(per_minute: u32) -> TokenBucket {
        let capacity = f64::from(per_minute.max(1));
        TokenBucket { capacity, per_second: capacity / 60.0, tokens: capacity, last: Instant::now() }
    }

    /// Take a token at `now`; Err is how long until one is available.
    pub fn take_at(&mut self, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.per_second))
        }
    }

    pub fn take(&mut self) -> Result<(), Duration> {
        self.take_at(Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_refill_at_the_rate() {
        let mut b = TokenBucket::per_minute(10);
        let t0 = Instant::now();
        for _ in 0..10 {
            assert!(b.take_at(t0).is_ok());
        }
        let wait = b.take_at(t0).unwrap_err();
        assert!(wait > Duration::from_secs(5) && wait <= Duration::from_secs(6), "{wait:?}");
        assert!(b.take_at(t0 + Duration::from_secs(6)).is_ok());
        assert!(b.take_at(t0 + Duration::from_secs(6)).is_err());
    }
}
