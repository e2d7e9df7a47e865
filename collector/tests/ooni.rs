//! `import-ooni` end to end on a real SQLite file: OONI's recorded samples and fixtures in its
//! documented format (tests/data/ooni, see its README) become `ooni_measurements` rows and
//! observations of source `ooni` with the right platform and verdict, never Vigil measurements;
//! a re-import adds nothing; hostile files stop with an error naming the file and line, and
//! what was imported before stays imported. The binary is run for the command line.

use std::io::Write;
use std::path::{Path, PathBuf};

use vigil_collector::config::ImportLimits;
use vigil_collector::ooni::{Battery, ImportError, ImportReport, import_path};
use vigil_collector::{Collector, Config};

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/ooni")
}

/// Open a collector in `dir`, import `path` with `limits`, close it.
async fn import(dir: &Path, path: &Path, limits: ImportLimits) -> Result<ImportReport, (ImportReport, ImportError)> {
    let collector = Collector::open(Config::new(dir)).expect("opens");
    let state = collector.state().clone();
    let r = import_path(&state, path, Battery::builtin(), &limits, false).await;
    drop(state);
    tokio::task::spawn_blocking(move || collector.close()).await.unwrap();
    r
}

fn db(dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join("vigil.sqlite")).unwrap()
}

fn count(dir: &Path, sql: &str) -> i64 {
    db(dir).query_row(sql, [], |r| r.get(0)).unwrap()
}

/// (platform, status, family, source, run, probe) of the observation of `uid`.
fn observation(dir: &Path, uid: &str) -> (String, String, Option<String>, String, String, String) {
    db(dir)
        .query_row(
            "SELECT platform, status, family, source, run, key_id FROM observations WHERE measurement_id = ?1",
            [uid],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
        )
        .unwrap_or_else(|e| panic!("observation {uid}: {e}"))
}

/// The uid of the stored measurement of `input` in `report`.
fn uid_of(dir: &Path, report: &str, input: Option<&str>) -> String {
    db(dir)
        .query_row(
            "SELECT uid FROM ooni_measurements WHERE report_id = ?1 AND input IS ?2",
            rusqlite::params![report, input],
            |r| r.get(0),
        )
        .unwrap_or_else(|e| panic!("{report} {input:?}: {e}"))
}

const WC: &str = "20240301T100000Z_webconnectivity_UG_20294_n1_FixtureA0000001";

#[tokio::test(flavor = "multi_thread")]
async fn samples_and_fixtures_become_ooni_rows_and_observations_with_their_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let r = import(dir.path(), &data(), ImportLimits::default()).await.expect("imports");
    // 5 samples, 7 + 8 + 3 fixture lines; ooni.org is outside the battery.
    assert_eq!((r.files, r.lines, r.imported, r.duplicates), (8, 23, 22, 0), "{r:?}");
    assert_eq!(r.skipped.get("URL host outside the battery"), Some(&1), "{r:?}");
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM ooni_measurements"), 22);
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM observations WHERE source = 'ooni'"), 22);
    // Never Vigil measurements, never signed evidence.
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM measurements"), 0);

    // Web Connectivity: measurement_uid kept when present, else derived.
    let dns = "20240301100005.123456_UG_webconnectivity_aaaaaaaaaaaaaaaa";
    assert_eq!(uid_of(dir.path(), WC, Some("https://twitter.com/")), dns);
    let probe = format!("ooni:{WC}");
    assert_eq!(
        observation(dir.path(), dns),
        ("x".into(), "blocked".into(), Some("dns".into()), "ooni".into(), WC.into(), probe.clone())
    );
    let tcp = uid_of(dir.path(), WC, Some("https://www.facebook.com/"));
    assert!(tcp.starts_with("ooni-") && tcp.len() == 5 + 64, "{tcp}");
    assert_eq!(tcp, vigil_collector::ooni::derived_uid(WC, Some("https://www.facebook.com/"), "2024-03-01 10:00:10"));
    assert_ne!(tcp, vigil_collector::ooni::derived_uid(WC, Some("https://www.facebook.com/"), "2024-03-01 10:00:11"));
    let verdict = |input: &str| {
        let (p, s, f, ..) = observation(dir.path(), &uid_of(dir.path(), WC, Some(input)));
        (p, s, f)
    };
    assert_eq!(verdict("https://www.facebook.com/"), ("facebook".into(), "blocked".into(), Some("tcp_ip".into())));
    assert_eq!(verdict("https://www.instagram.com/"), ("instagram".into(), "blocked".into(), Some("tls_sni".into())));
    assert_eq!(verdict("https://www.youtube.com/"), ("youtube".into(), "blocked".into(), Some("http".into())));
    assert_eq!(verdict("https://t.me/"), ("telegram".into(), "ok".into(), None));
    assert_eq!(verdict("https://www.reddit.com/"), ("reddit".into(), "unknown".into(), None));
    // received_at = start + runtime (rounded up): OONI does not say when it was uploaded.
    let (at, received): (i64, i64) = db(dir.path())
        .query_row("SELECT at, received_at FROM observations WHERE measurement_id = ?1", [dns], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((at, received - at), (1_709_287_205, 2), "start 2024-03-01 10:00:05, runtime 1.22 s");

    // The IM tests, blocked and ok, by their own flags.
    let im = |report: &str| {
        let (p, s, f, ..) = observation(dir.path(), &uid_of(dir.path(), report, None));
        (p, s, f)
    };
    let blocked = |p: &str, f: &str| (p.to_string(), "blocked".to_string(), Some(f.to_string()));
    let ok = |p: &str| (p.to_string(), "ok".to_string(), None);
    assert_eq!(im("20240302T080000Z_whatsapp_IR_44244_n1_FixtureW0000001"), blocked("whatsapp", "tcp_ip"));
    assert_eq!(im("20240302T090000Z_whatsapp_IR_44244_n1_FixtureW0000002"), ok("whatsapp"));
    assert_eq!(im("20240302T080100Z_telegram_IR_44244_n1_FixtureT0000001"), blocked("telegram", "tcp_ip"));
    assert_eq!(im("20240302T090100Z_telegram_IR_44244_n1_FixtureT0000002"), ok("telegram"));
    assert_eq!(im("20240302T080200Z_signal_IR_44244_n1_FixtureS0000001"), blocked("signal", "tls_sni"));
    assert_eq!(im("20240302T090200Z_signal_IR_44244_n1_FixtureS0000002"), ok("signal"));
    let fb = "OOFixtureM0000001aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    assert_eq!(im(fb), blocked("messenger", "dns"));
    assert_eq!(
        uid_of(dir.path(), "OOFixtureM0000002aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", None),
        "20240302090300.000004_IR_facebookmessenger_eeeeeeeeeeeeeeee"
    );
    // The recorded samples as published (ooniprobe 2.0's facebook_messenger among them).
    assert_eq!(im("OOc2k6mbJ0a4w32uXfr02vdlR7292kpbnN1jTPcSWx4bcUo0N8kurasA4fsvrLbh"), ok("messenger"));
    assert_eq!(im("20221207T095248Z_whatsapp_IT_30722_n1_jwFo3mIUDj120GFH"), ok("whatsapp"));
    let sample = "20240214T090617Z_webconnectivity_IT_30722_n1_1IvUiXNWHooB5rmD";
    assert_eq!(
        observation(dir.path(), &uid_of(dir.path(), sample, Some("https://www.example.com/"))).0,
        "example",
        "the battery's control site"
    );
    // The .jsonl.gz hour.
    let gz = "20240301T110000Z_webconnectivity_UG_20294_n1_FixtureB0000002";
    assert_eq!(count(dir.path(), &format!("SELECT COUNT(*) FROM ooni_measurements WHERE report_id = '{gz}'")), 3);
    // The payload is kept as published.
    let payload: String =
        db(dir.path()).query_row("SELECT payload FROM ooni_measurements WHERE uid = ?1", [dns], |r| r.get(0)).unwrap();
    let line = std::fs::read_to_string(data().join("web_connectivity.jsonl")).unwrap();
    assert_eq!(payload, line.lines().next().unwrap());

    // A second import of the same files adds nothing.
    let again = import(dir.path(), &data(), ImportLimits::default()).await.expect("imports again");
    assert_eq!((again.imported, again.duplicates), (0, 22), "{again:?}");
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM observations"), 22);
}

#[tokio::test(flavor = "multi_thread")]
async fn ooni_observations_alone_publish_no_shutdown() {
    // One report per run: every "probe" (ooni:<report_id>) is heard once and then never again.
    // That silence is no outage: OONI measurements are never signs of life.
    let dir = tempfile::tempdir().unwrap();
    import(dir.path(), &data(), ImportLimits::default()).await.expect("imports");
    let collector = Collector::open(Config::new(dir.path())).expect("opens");
    let state = collector.state().clone();
    let end = 1_709_287_205 + 3 * 86_400;
    let mut t = 1_709_287_205;
    while t <= end {
        vigil_collector::detection::pass(&state, t).await.expect("pass");
        t += 6 * 3600;
    }
    drop(state);
    tokio::task::spawn_blocking(move || collector.close()).await.unwrap();
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM events WHERE type IN ('shutdown', 'outage')"), 0);
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::File::create(path).unwrap().write_all(bytes).unwrap();
}

fn im_lines() -> Vec<String> {
    std::fs::read_to_string(data().join("im.jsonl")).unwrap().lines().map(str::to_string).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_huge_line_stops_the_import_naming_it_and_keeps_what_came_before() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hostile.jsonl");
    let lines = im_lines();
    let huge = format!("{{\"report_id\": \"{}\"}}", "x".repeat(1 << 20));
    write(&file, format!("{}\n{}\n{huge}\n{}\n", lines[0], lines[1], lines[2]).as_bytes());
    let limits = ImportLimits { max_line_bytes: 64 * 1024, ..ImportLimits::default() };
    let (r, e) = import(dir.path(), &file, limits).await.expect_err("refused");
    let e = e.to_string();
    assert!(e.contains("hostile.jsonl: line 3: line longer than 65536 bytes"), "{e}");
    assert_eq!(r.imported, 2);
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM ooni_measurements"), 2, "the lines before it stay imported");
}

#[tokio::test(flavor = "multi_thread")]
async fn binary_junk_stops_the_import_naming_it_and_keeps_what_came_before() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("junk.jsonl");
    let mut bytes = format!("{}\n", im_lines()[0]).into_bytes();
    bytes.extend((0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
    write(&file, &bytes);
    let (r, e) = import(dir.path(), &file, ImportLimits::default()).await.expect_err("refused");
    let e = e.to_string();
    assert!(e.contains("junk.jsonl: line 2: not UTF-8 text") || e.contains("junk.jsonl: line 2: not JSON"), "{e}");
    assert_eq!((r.imported, count(dir.path(), "SELECT COUNT(*) FROM ooni_measurements")), (1, 1));
    // A JSON line that is not a measurement is skipped, not fatal.
    write(&file, b"[1,2]\n\"text\"\n{\"report_id\": 5}\n");
    let r = import(dir.path(), &file, ImportLimits::default()).await.expect("read");
    assert_eq!(r.skipped.get("not an OONI measurement (no report_id)"), Some(&2), "{r:?}");
    assert_eq!(r.skipped.get("bad or missing report_id"), Some(&1), "{r:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_million_tiny_lines_pass_the_default_line_count_bound() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tiny.jsonl");
    let mut text = format!("{}\n", im_lines()[0]);
    text.push_str(&"{}\n".repeat(1_000_000));
    write(&file, text.as_bytes());
    let (r, e) = import(dir.path(), &file, ImportLimits::default()).await.expect_err("refused");
    let bound = vigil_collector::config::DEFAULT_IMPORT_MAX_LINES;
    assert!(bound < 1_000_000);
    let e = e.to_string();
    assert!(e.contains(&format!("tiny.jsonl: line {}: more than {bound} lines in one file", bound + 1)), "{e}");
    assert_eq!((r.imported, count(dir.path(), "SELECT COUNT(*) FROM ooni_measurements")), (1, 1));
}

#[tokio::test(flavor = "multi_thread")]
async fn decompressed_bytes_and_files_per_directory_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    // A gzip bomb: 64 MiB of blank lines (64 KiB each) in a few kilobytes.
    let bomb = dir.path().join("bomb.jsonl.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(format!("{}\n", im_lines()[0]).as_bytes()).unwrap();
    let mut blank = vec![b' '; 1 << 16];
    *blank.last_mut().unwrap() = b'\n';
    for _ in 0..1024 {
        gz.write_all(&blank).unwrap();
    }
    write(&bomb, &gz.finish().unwrap());
    let limits = ImportLimits { max_file_bytes: 1 << 20, ..ImportLimits::default() };
    let (r, e) = import(dir.path(), &bomb, limits).await.expect_err("refused");
    assert!(e.to_string().contains("bomb.jsonl.gz: more than 1048576 bytes once decompressed"), "{e}");
    assert_eq!(r.imported, 1);

    let many = dir.path().join("many");
    std::fs::create_dir_all(many.join("sub")).unwrap();
    for name in ["a.jsonl", "b.json", "sub/c.jsonl.gz"] {
        std::fs::copy(data().join("ts-029-signal.json"), many.join(name)).unwrap();
    }
    write(&many.join("notes.txt"), b"not a measurement file");
    let limits = ImportLimits { max_files: 2, ..ImportLimits::default() };
    let (_, e) = import(dir.path(), &many, limits).await.expect_err("refused");
    assert!(e.to_string().contains("more than 2 measurement files"), "{e}");
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM ooni_measurements"), 1, "nothing of the directory was read");
}

#[test]
fn the_binary_imports_a_gzipped_file_and_prints_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_vigil-collector");
    let gz = data().join("2024030111_UG_webconnectivity.n1.0.jsonl.gz");
    let run = |extra: &[&str]| {
        std::process::Command::new(bin)
            .args(["import-ooni", gz.to_str().unwrap(), "--data-dir", dir.path().to_str().unwrap()])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = run(&[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("1 files, 3 measurements: 3 imported, 0 duplicates, 0 skipped"), "{stdout}");
    let out = run(&[]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 imported, 3 duplicates"));
    // A custom battery without the platform: counted and skipped.
    let battery = dir.path().join("battery.toml");
    write(&battery, b"[[platform]]\nid = \"lab_1\"\nkind = \"platform\"\n[[platform.endpoint]]\ngroup = \"w\"\ninput = \"https://lab.example/\"\n");
    let out = run(&["--battery", battery.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("skipped 3: URL host outside the battery"), "{stdout}");
    let out = run(&["--max-lines", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("must be at least 1"));
}
