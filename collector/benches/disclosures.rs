//! Disclosure benchmark: a synthetic #KeepItOn STOP export of ROWS rows (30 countries by name,
//! six years of dates, full-network and service-based rows) parsed, imported into SQLite in a
//! temporary directory (and imported again: all already stored), then reconciled (pure logic)
//! against 5,000 events in the same countries: rates and times.
//!
//! `cargo bench -p vigil-collector --bench disclosures --profile bench-fast [-- <rows>]`
//! (default 50,000 rows).

use std::collections::HashMap;
use std::time::Instant;

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

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn mdy(t: i64) -> String {
    let d = time::OffsetDateTime::from_unix_timestamp(t).unwrap();
    format!("{}/{}/{}", d.month() as u8, d.day(), d.year())
}

fn stop_csv(rows: usize, rng: &mut Rng) -> String {
    let mut s = String::from(
        "start_date,country,geo_scope,area_name,shutdown_type,affected_network,shutdown_extent,actual_cause,\
         info_source_link,end_date,facebook_affected,twitter_affected,whatsapp_affected,instagram_affected,\
         telegram_affected,other_affected\n",
    );
    for _ in 0..rows {
        let (name, _) = COUNTRIES[rng.below(30) as usize];
        let start = START + rng.below(6 * 365) as i64 * D;
        let end = start + rng.below(10) as i64 * D;
        let service = rng.below(2) == 0;
        let yn = |r: &mut Rng| if service && r.below(2) == 0 { "Yes" } else { "No" };
        s.push_str(&format!(
            "{},\"{name}\",Level 1,Area,{},\"Mobile, Broadband\",{},Protests,https://news.example/{},{},{},{},{},{},{},\n",
            mdy(start),
            if rng.below(5) == 0 { "Throttle" } else { "Shutdown" },
            if service { "Service-based" } else { "Full network" },
            rng.next(),
            if rng.below(10) == 0 { String::new() } else { mdy(end) },
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
    let mut rng = Rng(9);
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
            let (_, cc) = COUNTRIES[rng.below(30) as usize];
            let start = START + rng.below(6 * 365 * 24) as i64 * 3600;
            let shutdown = rng.below(3) == 0;
            MeasuredEvent {
                id: format!("e{i}"),
                kind: if shutdown { "shutdown".into() } else { "blocking".into() },
                platform: (!shutdown).then(|| platforms[rng.below(5) as usize].to_string()),
                cc: cc.into(),
                asn: None,
                start,
                end: (rng.below(20) != 0).then(|| start + rng.below(48) as i64 * 3600),
                status: "confirmed".into(),
            }
        })
        .collect();
    let coverage: HashMap<String, u32> =
        stored.iter().filter(|_| rng.below(2) == 0).map(|d| (d.key.clone(), 3)).collect();
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
