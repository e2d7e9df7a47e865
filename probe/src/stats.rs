//! The process's own resource use (peak RSS, CPU time) from /proc, for benchmarks and for
//! operators sizing a router. Linux only; `None` elsewhere.

/// Peak resident set size in KiB (`VmHWM` of /proc/self/status).
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// User + system CPU seconds of this process (/proc/self/stat, fields 14 and 15, in clock ticks
/// of 1/100 s, which is USER_HZ on every Linux architecture the probe ships for).
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces; fields restart after its closing parenthesis.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_own_usage() {
        let rss = super::peak_rss_kib().expect("linux /proc");
        assert!(rss > 100, "a test process uses more than 100 KiB: {rss}");
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert!(x != 1);
        assert!(super::cpu_seconds().expect("linux /proc") >= 0.0);
    }
}
