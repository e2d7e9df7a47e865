//! Unit tests of the disclosure format: times, CSV and JSON rows, errors by line and field.

use super::*;

const T: i64 = 1_741_046_400; // 2025-03-04 00:00 UTC

fn none(_: usize) {}

#[test]
fn times_are_dates_or_rfc3339_normalised_to_utc() {
    assert_eq!(parse_when("2025-03-04").unwrap(), When { at: T, granularity: Granularity::Day });
    assert_eq!(parse_when("2025-03-04T10:15:00Z").unwrap(), When::second(T + 10 * 3600 + 900));
    // 13:45 at +03:30 is 10:15 UTC; the offset is not kept.
    assert_eq!(parse_when("2025-03-04T13:45:00+03:30").unwrap(), When::second(T + 10 * 3600 + 900));
    assert_eq!(parse_when("2025-03-04T05:15:00-05:00").unwrap(), When::second(T + 10 * 3600 + 900));
    assert_eq!(parse_when("2025-03-04T10:15Z").unwrap(), When::second(T + 10 * 3600 + 900));
    assert_eq!(parse_when("2025-03-04T13:45+03:30").unwrap(), When::second(T + 10 * 3600 + 900));
    assert_eq!(parse_when("2025-03-04T13:45:00+03:30").unwrap().text(), "2025-03-04T10:15:00Z");
    assert!(parse_when("2025-03-04T10:15:00").unwrap_err().contains("UTC offset"));
    assert!(parse_when("2025-03-04 10:15").unwrap_err().contains("UTC offset"));
    assert!(parse_when("2025-02-30").unwrap_err().contains("no such date"));
    assert!(parse_when("yesterday").unwrap_err().contains("expected a date"));
    assert!(parse_when("1969-12-31").is_err());
}

#[test]
fn differences_and_granules() {
    let day = When::day(T + 5);
    assert_eq!(day.at, T);
    assert_eq!(day.granule(), (T, T + 86_400));
    assert_eq!(day.text(), "2025-03-04");
}

const HEADER: &str = "format_version,source,platform,services,country,asn,start,end,type,cause,source_url,published_at";

#[test]
fn csv_rows_are_kept_or_reported_by_line_and_field() {
    let text = format!(
        "{HEADER}\n\
         1,meta,facebook,Facebook;Messenger,ir,AS44244,2025-03-04T10:00:00+03:30,,blocked,order,https://t.example/1,2025-03-05\n\
         1,meta,facebook,,IR,,2025-03-04,2025-03-03,blocked,,,\n\
         1,meta,Twitter,,IR,,2025-03-04,,shutdown,,,\n\
         2,meta,facebook,,IR,,2025-03-04,,blocked,,,\n\
         1,meta,facebook,,IRN,,2025-03-04,,blocked,,,\n\
         1,meta,facebook,,IR,x1,2025-03-04,,blocked,,,\n\
         1,meta,facebook,,IR,,2025-03-04,,censored,,,\n\
         1,meta,facebook,,IR,,2025-03-04,,blocked,,ftp://x,\n\
         1,meta,facebook,,IR,,,,blocked,,,\n\
         1,meta,facebook,,IR\n\
         \"1\",\"meta\",\"facebook\",\"a, b\",\"IR\",\"\",\"2025-03-06T00:00:00Z\",\"2025-03-06T06:00:00Z\",\"throttled\",\"\",\"\",\"\"\n"
    );
    let p = parse_csv(&text, &mut none).unwrap();
    assert_eq!(p.records, 11);
    let good: Vec<usize> = p.rows.iter().map(|r| r.0).collect();
    assert_eq!(good, [2, 4, 12]);
    let d = &p.rows[0].1;
    assert_eq!((d.country.as_str(), d.asn, d.kind), ("IR", Some(44244), DisclosureType::Blocked));
    assert_eq!(d.start, When::second(T + 6 * 3600 + 1800));
    assert_eq!(d.services, ["Facebook", "Messenger"]);
    assert_eq!(d.published_at, Some(When::day(T + 86_400)));
    assert_eq!(p.rows[1].1.platform, "x", "Twitter is Vigil's x");
    assert_eq!(p.rows[2].1.services, ["a, b"]);
    let errors: Vec<(usize, Option<&str>)> = p.errors.iter().map(|e| (e.line, e.field.as_deref())).collect();
    assert_eq!(
        errors,
        [
            (3, Some("end")),
            (5, Some("format_version")),
            (6, Some("country")),
            (7, Some("asn")),
            (8, Some("type")),
            (9, Some("source_url")),
            (10, Some("start")),
            (11, None)
        ]
    );
    assert_eq!(p.errors[0].to_string(), "line 3: end: 2025-03-03 is before the start 2025-03-04");
    assert!(p.errors[7].reason.contains("5 fields"), "{}", p.errors[7]);

    let err = parse_csv("format_version,source,platform,country,start,kind\n", &mut none).unwrap_err();
    assert!(err.0.contains("unknown column \"kind\""), "{err}");
    let err = parse_csv("format_version,source,platform,country,start\n", &mut none).unwrap_err();
    assert!(err.0.contains("\"type\" is missing"), "{err}");
}

#[test]
fn json_arrays_and_lines_name_the_line_of_each_bad_record() {
    let lines = "{\"format_version\":1,\"source\":\"google\",\"platform\":\"youtube\",\"country\":\"PK\",\"start\":\"2025-03-04T10:00:00Z\",\"type\":\"blocked\",\"services\":[\"YouTube\"],\"asn\":17557}\n\
                 \n\
                 {\"format_version\":1,\"source\":\"google\",\"platform\":\"youtube\",\"country\":\"PK\",\"start\":\"2025-03-04\",\"type\":\"blocked\",\"colour\":\"red\"}\n\
                 not json\n";
    let p = parse_json(lines, &mut none);
    assert_eq!(p.rows.len(), 1);
    assert_eq!((p.rows[0].1.asn, &p.rows[0].1.services[..]), (Some(17557), &["YouTube".to_string()][..]));
    let errors: Vec<(usize, Option<&str>)> = p.errors.iter().map(|e| (e.line, e.field.as_deref())).collect();
    assert_eq!(errors, [(3, Some("colour")), (4, None)]);

    let array = "[\n  {\"format_version\": 1, \"source\": \"g\", \"platform\": \"all\", \"country\": \"PK\",\n   \"start\": \"2025-03-04\", \"type\": \"shutdown\"},\n  {\"format_version\": 1, \"source\": \"g\", \"platform\": \"all\", \"country\": \"PK\",\n   \"type\": \"shutdown\"}\n]\n";
    let p = parse_json(array, &mut none);
    assert_eq!(p.rows.iter().map(|r| r.0).collect::<Vec<_>>(), [2]);
    assert_eq!((p.errors[0].line, p.errors[0].field.as_deref()), (4, Some("start")));
}

#[test]
fn keys_are_stable_and_follow_the_publishers_id() {
    let text = format!("{HEADER}\n1,meta,facebook,,IR,,2025-03-04,,blocked,,,\n");
    let a = parse_csv(&text, &mut none).unwrap().rows.remove(0).1;
    let b = parse_csv(&text, &mut none).unwrap().rows.remove(0).1;
    assert_eq!(a.key(), b.key());
    assert!(a.key().starts_with("d-") && a.key().len() == 26);
    let mut c = a.clone();
    c.end = Some(When::day(T + 86_400));
    assert_ne!(a.key(), c.key(), "without an id, content is the key");
    let (mut x, mut y) = (a.clone(), c.clone());
    x.id = Some("r-1".into());
    y.id = Some("r-1".into());
    assert_eq!(x.key(), y.key(), "the same id from the same source replaces");
    // The JSON form reads back to the same record.
    let json = serde_json::to_string(&c).unwrap();
    assert_eq!(serde_json::from_str::<Disclosure>(&json).unwrap(), c);
    assert!(json.contains("\"start\":\"2025-03-04\"") && json.contains("\"type\":\"blocked\""), "{json}");
}

#[test]
fn progress_is_reported_every_n_records() {
    let mut text = format!("{HEADER}\n");
    for _ in 0..(PROGRESS_EVERY * 2 + 5) {
        text.push_str("1,meta,facebook,,IR,,2025-03-04,,blocked,,,\n");
    }
    let mut seen = Vec::new();
    let p = parse_csv(&text, &mut |n| seen.push(n)).unwrap();
    assert_eq!(seen, [PROGRESS_EVERY, PROGRESS_EVERY * 2]);
    assert_eq!(p.rows.len(), PROGRESS_EVERY * 2 + 5);
}

#[test]
fn lines_are_right_with_crlf_line_ends() {
    let text =
        format!("{HEADER}\r\n1,meta,facebook,,IR,,2025-03-04,,blocked,,,\r\n1,meta,facebook,,IR,,,,blocked,,,\r\n");
    let p = parse_csv(&text, &mut none).unwrap();
    assert_eq!((p.rows[0].0, p.errors[0].line), (2, 3));
}
