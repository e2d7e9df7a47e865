//! Human-readable output: a table of verdicts, one line per endpoint, then one per platform.

use std::fmt::Write;

use vigil_report::{Measurement, PlatformKeys, WebKeys};

fn cell(text: &str, width: usize) -> String {
    let mut s: String = text.chars().take(width).collect();
    while s.chars().count() < width {
        s.push(' ');
    }
    s
}

/// The endpoints' verdicts as a table.
pub fn endpoint_table(measurements: &[Measurement<WebKeys>]) -> String {
    let width = measurements.iter().filter_map(|m| m.input.as_ref()).map(|i| i.chars().count()).max().unwrap_or(5);
    let width = width.clamp(5, 60);
    let mut out = String::new();
    let _ = writeln!(out, "{}  {:<12} {:<10} {:<22} WHY", cell("INPUT", width), "BLOCKING", "ACCESSIBLE", "MECHANISM");
    for m in measurements {
        let k = &m.test_keys;
        let accessible = k.accessible.map(|a| a.to_string()).unwrap_or_else(|| "null".into());
        let mechanism = k.mechanism.map(|m| m.label()).unwrap_or_else(|| "-".into());
        let why = k.x_reasons.first().map(String::as_str).unwrap_or("");
        let proven = if k.x_confirmed { " [proven]" } else { "" };
        let _ = writeln!(
            out,
            "{}  {:<12} {:<10} {:<22} {why}{proven}",
            cell(m.input.as_deref().unwrap_or(""), width),
            k.blocking.label(),
            accessible,
            mechanism
        );
    }
    out
}

/// The platforms' verdicts as a table.
pub fn platform_table(platforms: &[Measurement<PlatformKeys>]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{:<14} {:<9} {:<13} {:<22} WHY", "PLATFORM", "KIND", "STATUS", "MECHANISM");
    for p in platforms {
        let k = &p.test_keys;
        let status = serde_json::to_value(k.status).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
        let mechanism = k.mechanism.map(|m| m.label()).unwrap_or_else(|| "-".into());
        let why = k.reasons.first().map(String::as_str).unwrap_or("");
        let _ = writeln!(out, "{:<14} {:<9} {:<13} {:<22} {why}", k.platform, k.kind, status, mechanism);
    }
    out
}
