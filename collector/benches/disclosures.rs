//! Disclosure benchmark: a synthetic #KeepItOn STOP export of ROWS rows (30 countries by name,
//! six years of dates, full-network and service-based rows) parsed, imported into SQLite in a
//! temporary directory (and imported again: all already stored), then reconciled (pure logic)
//! against 5,000 events in the same countries: rates and times.
//!
//! `cargo bench -p vigil-collector --bench disclosures --profile bench-fast [-- <rows>]`
//! (default 50,000 rows).

use std::collections::HashMap;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use vigil_collector::disclosures::{InputFormat, parse};
use vigil_collector::disclosures_reconcile::{DEFAULT_TOLERANCE, Filter, MeasuredEvent, Options, reconcile};
use vigil_collector::{disclosures_store, store};

const COUNTRIES: [(&str, &str); 30] = [
    ("India", "IN"),
    ("Iran (Islamic Republic of)", "IR"),
    ("Myanmar", "MM"),
    ("Ethiopia", "ET"),
    ("Pakistan", "PK"),
    ("Russia", "RU"),
    ("Türkiye", "TR"),
    ("Iraq", "IQ"),
    ("Sudan", "SD"),
    ("Syria", "SY"),
    ("Bangladesh", "BD"),
    ("Algeria", "DZ"),
    ("Jordan", "JO"),
    ("Senegal", "SN"),
    ("Kenya", "KE"),
    ("Uganda", "UG"),
    ("Tanzania", "TZ"),
    ("Venezuela", "VE"),
    ("Cuba", "CU"),
    ("Kazakhstan", "KZ"),
    ("Azerbaijan", "AZ"),
    ("Libya", "LY"),
    ("Egypt", "EG"),
    ("Gabon", "GA"),
    ("Guinea", "GN"),
    ("Mauritania", "MR"),
    ("Democratic Republic of the Congo", "CD"),
    ("Nigeria", "NG"),
    ("Zimbabwe", "ZW"),
    ("Palestine", "PS"),
];
const START: i64 = 1_577_836_800; // 2020-01-01
const D: i64 = 86_400;

fn mdy(t: i64) -> String {
    let d = time::OffsetDateTime::from_unix_timestamp(t).unwrap();
    format!("{}/{}/{}", d.month() as u8, d.day(), d.year())
}

fn stop_csv(rows: usize, rng: &mut StdRng) -> String {
    let mut s = String::from(
        "start_date,country,geo_scope,area_name,shutdown_type,affected_network,shutdown_extent,actual_cause,\
         info_source_link,end_date,facebook_affected,twitter_affected,whatsapp_affected,instagram_affected,\
         telegram_affected,other_affected\n",
    );
    for _ in 0..rows {
        let (name, _) = COUNTRIES[rng.random_range(0..30usize)];
        let start = START + rng.random_range(0..6 * 365i64) * D;
        let end = start + rng.random_range(0..10i64) * D;
        let service = rng.random_ratio(1, 2);
        let yn = |r: &mut StdRng| if service && r.random_ratio(1, 2) { "Yes" } else { "No" };
        s.push_str(&format!(
            "{},\"{name}\",Level 1,Area,{},\"Mobile, Broadband\",{},Protests,https://news.example/{},{},{},{},{},{},{},\n",
            mdy(start),
            if rng.random_ratio(1, 5) { "Throttle" } else { "Shutdown" },
            if service { "Service-based" } else { "Full network" },
            rng.random::<u64>(),
            if rng.random_ratio(1, 10) { String::new() } else { mdy(end) },
            yn(rng),
            yn(rng),
            yn(rng),
            yn(rng),
            yn(rng),
        ));
    }
    s
}

fn main() {
    let rows: usize =
        std::env::args().skip(1).find(|a| !a.starts_with('-')).and_then(|a| a.parse().ok()).unwrap_or(50_000);
    let mut rng = StdRng::seed_from_u64(9);
    let text = stop_csv(rows, &mut rng);
    println!("STOP export: {rows} rows, {:.1} MB", text.len() as f64 / 1e6);

    let t = Instant::now();
    let parsed = parse(&text, InputFormat::Stop, &mut |_| {}).expect("parses");
    let secs = t.elapsed().as_secs_f64();
    let disclosures = parsed.rows.len();
    println!(
        "parse: {disclosures} disclosures, {} bad rows, {:.3} s ({:.0} rows/s)",
        parsed.errors.len(),
        secs,
        rows as f64 / secs
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let mut conn = store::open_and_migrate(&dir.path().join("vigil.sqlite")).expect("db");
    let t = Instant::now();
    let report = disclosures_store::import(&mut conn, parsed.clone(), 0).expect("import");
    let secs = t.elapsed().as_secs_f64();
    println!("import: {} new, {:.3} s ({:.0} disclosures/s)", report.inserted, secs, disclosures as f64 / secs);
    let t = Instant::now();
    let again = disclosures_store::import(&mut conn, parsed, 0).expect("import");
    println!("re-import: {} already stored, {:.3} s", again.unchanged, t.elapsed().as_secs_f64());

    let stored = disclosures_store::load(&conn, None).expect("load");
    let platforms = ["whatsapp", "telegram", "facebook", "x", "instagram"];
    let events: Vec<MeasuredEvent> = (0..5000)
        .map(|i| {
            let (_, cc) = COUNTRIES[rng.random_range(0..30usize)];
            let start = START + rng.random_range(0..6 * 365 * 24i64) * 3600;
            let shutdown = rng.random_ratio(1, 3);
            MeasuredEvent {
                id: format!("e{i}"),
                kind: if shutdown { "shutdown".into() } else { "blocking".into() },
                platform: (!shutdown).then(|| platforms[rng.random_range(0..5usize)].to_string()),
                cc: cc.into(),
                asn: None,
                start,
                end: (!rng.random_ratio(1, 20)).then(|| start + rng.random_range(0..48i64) * 3600),
                status: "confirmed".into(),
            }
        })
        .collect();
    let coverage: HashMap<String, u32> =
        stored.iter().filter(|_| rng.random_ratio(1, 2)).map(|d| (d.key.clone(), 3)).collect();
    let o = Options { filter: Filter::default(), tolerance: DEFAULT_TOLERANCE, now: START + 7 * 365 * D };
    let t = Instant::now();
    let r = reconcile(&stored, &events, &coverage, &o);
    println!(
        "reconcile: {} disclosures x {} events -> {} rows, {} scorecard rows in {:.3} s",
        stored.len(),
        events.len(),
        r.rows.len(),
        r.scorecard.len(),
        t.elapsed().as_secs_f64()
    );
}
