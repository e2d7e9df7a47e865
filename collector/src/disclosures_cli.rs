//! `vigil-collector disclosures import|reconcile`: import a disclosure file into a data dir
//! (progress on stderr, bad rows by line and field) and print the reconciliation and the
//! scorecard as text or CSV.

use std::fmt::Write as _;
use std::path::Path;

use crate::api_disclosures::{rows_csv, scorecard_csv_text};
use crate::config::Config;
use crate::disclosures::{self, Granularity, InputFormat};
use crate::disclosures_reconcile::{Options, Outcome, ReconRow, Reconciliation, ScoreRow};
use crate::disclosures_store::{self, ImportReport};

/// Why a command failed; `label` is stable, `exit` the process exit code.
#[derive(Debug, thiserror::Error)]
pub enum DisclosureCliError {
    #[error("{0}")]
    Usage(String),
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error(transparent)]
    Collector(#[from] crate::CollectorError),
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
}

impl DisclosureCliError {
    pub fn label(&self) -> &'static str {
        match self {
            DisclosureCliError::Usage(_) => "bad_usage",
            DisclosureCliError::File { .. } => "bad_file",
            DisclosureCliError::Collector(e) => e.label(),
            DisclosureCliError::Db(_) => "db_error",
        }
    }

    pub fn exit(&self) -> u8 {
        match self {
            DisclosureCliError::Usage(_) | DisclosureCliError::File { .. } => 2,
            _ => 1,
        }
    }
}

/// The format of a file: as given, or by its extension (`.csv`, `.json`, `.jsonl`).
pub fn format_of(file: &Path, given: Option<InputFormat>) -> Result<InputFormat, DisclosureCliError> {
    if let Some(f) = given {
        return Ok(f);
    }
    match file.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("csv") => Ok(InputFormat::Csv),
        Some("json" | "jsonl" | "ndjson") => Ok(InputFormat::Json),
        _ => Err(DisclosureCliError::Usage(format!(
            "{}: say --format csv, json or stop (the extension does not tell)",
            file.display()
        ))),
    }
}

/// Import `file` into the data dir; progress lines go to stderr.
pub fn import(file: &Path, format: InputFormat, data_dir: &Path, now: i64) -> Result<ImportReport, DisclosureCliError> {
    let file_err = |message: String| DisclosureCliError::File { path: file.display().to_string(), message };
    let text = std::fs::read_to_string(file).map_err(|e| file_err(e.to_string()))?;
    let started = std::time::Instant::now();
    let mut progress = |n: usize| {
        let rate = n as f64 / started.elapsed().as_secs_f64().max(1e-3);
        eprintln!("  read {n} records ({rate:.0} records/s)");
    };
    let parsed = disclosures::parse(&text, format, &mut progress).map_err(|e| file_err(e.0))?;
    drop(text);
    let stored = parsed.rows.len();
    std::fs::create_dir_all(data_dir).map_err(|e| crate::CollectorError::io("create", data_dir, e))?;
    let mut conn = crate::store::open_and_migrate(&Config::new(data_dir).db_path())?;
    if stored >= disclosures::PROGRESS_EVERY {
        eprintln!("  storing {stored} disclosures");
    }
    Ok(disclosures_store::import(&mut conn, parsed, now)?)
}

/// The import's summary: counts, then every bad row (at most `max_errors`).
pub fn import_summary(r: &ImportReport, max_errors: usize) -> String {
    let mut out = format!(
        "{} records: {} disclosures stored ({} new, {} updated, {} already stored), {} bad rows\n",
        r.records,
        r.inserted + r.updated + r.unchanged,
        r.inserted,
        r.updated,
        r.unchanged,
        r.errors.len()
    );
    for e in r.errors.iter().take(max_errors) {
        let _ = writeln!(out, "bad row: {e}");
    }
    if r.errors.len() > max_errors {
        let _ = writeln!(out, "... and {} more bad rows", r.errors.len() - max_errors);
    }
    out
}

/// Reconcile what the data dir holds.
pub fn reconcile(data_dir: &Path, o: &Options) -> Result<Reconciliation, DisclosureCliError> {
    let path = Config::new(data_dir).db_path();
    if !path.exists() {
        return Err(DisclosureCliError::Usage(format!("{}: no database (import disclosures first)", path.display())));
    }
    let conn = crate::store::open_and_migrate(&path)?;
    Ok(disclosures_store::reconciliation(&conn, o)?)
}

fn duration(secs: i64) -> String {
    let sign = if secs < 0 {
        "-"
    } else if secs > 0 {
        "+"
    } else {
        ""
    };
    let m = (secs.abs() + 30) / 60;
    match m {
        0 => "0".into(),
        m if m < 120 => format!("{sign}{m} min"),
        m if m < 48 * 60 => format!("{sign}{} h {} min", m / 60, m % 60),
        m => format!("{sign}{} d {} h", m / 1440, (m % 1440) / 60),
    }
}

fn score_line(s: &ScoreRow) -> String {
    let share = s.share_disclosed.map_or("-".into(), |x| format!("{:.0}%", x * 100.0));
    let delay = s.median_disclosure_delay.map_or("-".into(), duration);
    format!(
        "  {:<16} {:<10} {:<3} disclosed {}/{} ({share}), median delay {delay}; {} disclosures: {} matched, {} without probes there, {} with probes and no event\n",
        s.source,
        s.platform,
        s.country.as_deref().unwrap_or("*"),
        s.disclosed_events,
        s.measured_events,
        s.disclosures,
        s.matched_disclosures,
        s.unconfirmed_no_coverage,
        s.unconfirmed_no_event
    )
}

fn row_line(r: &ReconRow) -> String {
    let mut s = format!("  {:<24} {} {} {}", r.outcome.label(), r.source, r.platform, r.country);
    if let Some(a) = r.asn {
        let _ = write!(s, " AS{a}");
    }
    if let (Some(t), Some(start)) = (r.disclosure_type, &r.disclosure_start) {
        let day = if r.granularity == Some(Granularity::Day) { " (dates)" } else { "" };
        let _ =
            write!(s, "; disclosed {} {start} .. {}{day}", t.label(), r.disclosure_end.as_deref().unwrap_or("ongoing"));
    }
    if let (Some(id), Some(start)) = (&r.event, &r.event_start) {
        let _ = write!(s, "; event {id} {start} .. {}", r.event_end.as_deref().unwrap_or("ongoing"));
    }
    if r.outcome == Outcome::Matched {
        let d = |v: Option<i64>| v.map_or("-".into(), duration);
        let _ = write!(
            s,
            "; start {}, end {}, delay {}",
            d(r.start_difference),
            d(r.end_difference),
            d(r.disclosure_delay)
        );
    }
    if let Some(p) = r.probes {
        let _ = write!(s, "; {p} probes there");
    }
    if let Some(e) = &r.evidence {
        let _ = write!(s, "; evidence {e}");
    }
    s.push('\n');
    s
}

/// The reconciliation as text: the scorecard, then the rows.
pub fn text(r: &Reconciliation) -> String {
    let mut out = format!(
        "Reconciliation as of {}, tolerance {} s (times UTC; a date is that day in any time zone)\n\nScorecard:\n",
        r.as_of, r.tolerance
    );
    if r.scorecard.is_empty() {
        out.push_str("  (no disclosures match the filters)\n");
    }
    for s in &r.scorecard {
        out.push_str(&score_line(s));
    }
    let _ = writeln!(out, "\nRows ({}):", r.rows.len());
    for row in &r.rows {
        out.push_str(&row_line(row));
    }
    out
}

/// The reconciliation as CSV: the rows, or the scorecard.
pub fn csv(r: &Reconciliation, scorecard: bool) -> String {
    if scorecard { scorecard_csv_text(&r.scorecard) } else { rows_csv(&r.rows) }
}

/// Run `vigil-collector disclosures ...`: exit 0 when done, 3 when an import left bad rows
/// (the good ones are stored), 2 for bad usage or an unreadable file, 1 for other failures.
pub fn run(action: crate::cli::DisclosuresAction) -> std::process::ExitCode {
    use crate::cli::DisclosuresAction;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let fail = |e: DisclosureCliError| {
        eprintln!("vigil-collector disclosures: {}: {e}", e.label());
        std::process::ExitCode::from(e.exit())
    };
    match action {
        DisclosuresAction::Import { file, format, data_dir } => {
            let result = format_of(&file, format).and_then(|f| import(&file, f, &data_dir, now));
            match result {
                Ok(report) => {
                    print!("{}", import_summary(&report, 100));
                    if report.errors.is_empty() {
                        std::process::ExitCode::SUCCESS
                    } else {
                        std::process::ExitCode::from(3)
                    }
                }
                Err(e) => fail(e),
            }
        }
        DisclosuresAction::Reconcile {
            data_dir,
            source,
            platform,
            country,
            from,
            to,
            tolerance,
            csv: as_csv,
            scorecard,
        } => {
            let mut q = std::collections::HashMap::new();
            for (k, v) in [("source", source), ("platform", platform), ("country", country), ("from", from), ("to", to)]
            {
                if let Some(v) = v {
                    q.insert(k.to_string(), v);
                }
            }
            q.insert("tolerance".to_string(), tolerance.to_string());
            let keys = ["source", "platform", "country", "from", "to", "tolerance"];
            let options = match crate::api_disclosures::parse_query(&q, &keys, now) {
                Ok(o) => o.options,
                Err(e) => return fail(DisclosureCliError::Usage(format!("--{}", e.message))),
            };
            match reconcile(&data_dir, &options) {
                Ok(r) if as_csv => {
                    print!("{}", csv(&r, scorecard));
                    std::process::ExitCode::SUCCESS
                }
                Ok(r) => {
                    print!("{}", text(&r));
                    std::process::ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
    }
}
