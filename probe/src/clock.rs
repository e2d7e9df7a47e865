//! Relative timestamps (`t0`, `t`) as OONI records them: seconds since the test started.

use tokio::time::Instant;

/// The start of one test; `elapsed()` gives OONI's relative `t` values.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: Instant,
}

impl Clock {
    pub fn start() -> Self {
        Clock { start: Instant::now() }
    }

    /// Seconds since the start, rounded to microseconds.
    pub fn elapsed(&self) -> f64 {
        (self.start.elapsed().as_secs_f64() * 1e6).round() / 1e6
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::start()
    }
}
