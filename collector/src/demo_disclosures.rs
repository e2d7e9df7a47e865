//! The demo's disclosures: a disclosure file derived from the simulated fleet's ground truth
//! (some events disclosed late, one by date only, one still going on, some not at all, one
//! where Vigil has no probes, one where nothing happened), written into the demo's data dir
//! and imported, so a newcomer sees every outcome of the cross-check at once.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use vigil_detect::sim::{TruthEvent, TruthKind};

use crate::disclosures::{InputFormat, When};
use crate::disclosures_store::ImportReport;

const H: i64 = 3600;
/// The file written into the data dir.
pub const FILE: &str = "demo-disclosures.csv";

fn platform_of(t: &TruthEvent) -> Option<&str> {
    match &t.kind {
        TruthKind::Block { platform, .. } => Some(platform),
        _ => None,
    }
}

/// The demo's disclosure file (Vigil's CSV) for the scenario's ground truth, the simulated
/// period ending at `end`.
pub fn file(truth: &[TruthEvent], end: i64) -> String {
    let mut out = String::from(
        "format_version,id,source,platform,services,country,asn,start,end,type,cause,source_url,published_at\n",
    );
    let mut row = |id: &str,
                   source: &str,
                   platform: &str,
                   cc: &str,
                   asn: Option<u32>,
                   start: When,
                   stop: Option<When>,
                   kind: &str,
                   published: Option<i64>| {
        let _ = writeln!(
            out,
            "1,{id},{source},{platform},,{cc},{},{start},{},{kind},demo,https://example.org/demo/{id},{}",
            asn.map(|a| a.to_string()).unwrap_or_default(),
            stop.map(|w| w.text()).unwrap_or_default(),
            published.map(|p| When::second(p).text()).unwrap_or_default()
        );
    };
    let second = When::second;
    for t in truth {
        let ongoing = t.end > end;
        match (&t.kind, platform_of(t)) {
            // The platform discloses its blocks six hours after they start, the facebook one by
            // date only, and the twitter one never (its only twitter disclosure is elsewhere).
            (TruthKind::Block { .. }, Some(p)) if p != "twitter" => {
                let id = format!("{p}-{}-{}", t.cc, t.start / H);
                let (start, stop) = if p == "facebook" {
                    (When::day(t.start), Some(When::day(t.end)))
                } else {
                    (second(t.start), (!ongoing).then(|| second(t.end)))
                };
                row(&id, "demo-platform", p, &t.cc, t.asn, start, stop, "blocked", Some(t.start + 6 * H));
            }
            // A registry lists national shutdowns by date.
            (TruthKind::Shutdown, _) if t.asn.is_none() && t.cc == "XC" => {
                let id = format!("shutdown-{}-{}", t.cc, t.start / H);
                row(
                    &id,
                    "demo-registry",
                    "all",
                    &t.cc,
                    None,
                    When::day(t.start),
                    Some(When::day(t.end)),
                    "shutdown",
                    None,
                );
            }
            _ => {}
        }
    }
    // Disclosed where Vigil has no probes (XD), and where its probes saw nothing.
    let quiet = end - 30 * H;
    row(
        "twitter-XD",
        "demo-platform",
        "twitter",
        "XD",
        None,
        second(quiet),
        Some(second(quiet + 3 * H)),
        "blocked",
        Some(quiet + 4 * H),
    );
    row(
        "youtube-XB",
        "demo-platform",
        "youtube",
        "XB",
        None,
        second(quiet),
        Some(second(quiet + 2 * H)),
        "blocked",
        Some(quiet + 5 * H),
    );
    out
}

/// Write the file into the data dir and import it (idempotent: a second demo run into the same
/// dir adds only what is new).
pub fn write_and_import(truth: &[TruthEvent], end: i64, data_dir: &Path) -> Result<(PathBuf, ImportReport), String> {
    let path = data_dir.join(FILE);
    std::fs::write(&path, file(truth, end)).map_err(|e| format!("write {}: {e}", path.display()))?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let report = crate::disclosures_cli::import(&path, InputFormat::Csv, data_dir, now).map_err(|e| e.to_string())?;
    Ok((path, report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::{DEFAULT_STEP, DemoOptions, scenario};
    use crate::disclosures::parse;

    #[test]
    fn the_demo_file_is_valid_and_leaves_some_events_undisclosed() {
        let o = DemoOptions { end: 1_763_900_000, days: 7, probes: 40, seed: 1, step: DEFAULT_STEP };
        let (_, truth) = scenario(&o);
        let text = file(&truth, o.end);
        let p = parse(&text, InputFormat::Csv, &mut |_| {}).unwrap();
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        let platforms: Vec<&str> = p.rows.iter().map(|r| r.1.platform.as_str()).collect();
        assert!(platforms.contains(&"all") && platforms.contains(&"facebook"));
        let x: Vec<&str> = p.rows.iter().filter(|r| r.1.platform == "x").map(|r| r.1.country.as_str()).collect();
        assert_eq!(x, ["XD"], "the twitter block: never; one twitter disclosure elsewhere");
        assert!(p.rows.iter().any(|r| r.1.end.is_none()), "the ongoing block");
        assert!(p.rows.iter().any(|r| r.1.country == "XD"));
    }
}
