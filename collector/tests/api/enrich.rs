//! Enrichment: the submitting address becomes ASN and country; the address is stored nowhere.

use std::path::{Path, PathBuf};

use crate::support::{Server, config, key, measurement};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

fn origin_of(s: &Server, id: &str) -> (i64, String, String, String) {
    s.db()
        .query_row("SELECT asn, cc, claimed_asn, claimed_cc FROM measurements WHERE id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .unwrap()
}

/// Every text or blob value of every table, and the raw database files, searched for `needle`.
fn assert_nowhere(dir: &Path, needle: &str) {
    let db = rusqlite::Connection::open(dir.join("vigil.sqlite")).unwrap();
    let tables: Vec<String> = {
        let mut st = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").unwrap();
        st.query_map([], |r| r.get(0)).unwrap().map(|r| r.unwrap()).collect()
    };
    assert!(tables.contains(&"measurements".to_string()));
    let mut values = 0;
    for t in &tables {
        let mut st = db.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
        let n = st.column_count();
        let mut rows = st.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for i in 0..n {
                let text = match row.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Text(b) | rusqlite::types::ValueRef::Blob(b) => {
                        String::from_utf8_lossy(b).into_owned()
                    }
                    other => format!("{other:?}"),
                };
                values += 1;
                assert!(!text.contains(needle), "{t} column {i} holds {needle:?}: {text}");
            }
        }
    }
    assert!(values > 10, "the scan saw the data");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let found = bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
        assert!(!found, "{} contains {needle:?}", path.display());
    }
}

#[tokio::test]
async fn iptoasn_file_maps_the_peer_and_no_address_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.asn_db = Some(data("ip2asn-test.tsv"));
    let s = Server::start(c).await;
    let k = key(1);
    let collector = s.enroll(&k).await;
    s.submit_ok(&[measurement(&k, "a1"), measurement(&k, "a2")], &collector).await;
    assert_eq!(origin_of(&s, "a1"), (64512, "NL".into(), "AS0".into(), "ZZ".into()));
    let (_, probes) = s.admin(reqwest::Method::GET, "/api/v1/admin/probes").await;
    assert!(!probes.contains("127.0.0.1"), "{probes}");
    s.stop().await;
    assert_nowhere(dir.path(), "127.0.0.1");
}

#[tokio::test]
async fn csv_file_most_specific_network_wins() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.asn_db = Some(data("asn-test.csv"));
    let s = Server::start(c).await;
    let k = key(1);
    let collector = s.enroll(&k).await;
    s.submit_ok(&[measurement(&k, "c1")], &collector).await;
    assert_eq!(origin_of(&s, "c1").0, 64601);
    assert_eq!(origin_of(&s, "c1").1, "NO");
}

#[tokio::test]
async fn forwarded_for_is_used_only_behind_a_trusted_proxy() {
    for trust in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let mut c = config(dir.path());
        c.asn_db = Some(data("ip2asn-test.tsv"));
        c.trust_proxy = trust;
        let s = Server::start(c).await;
        let k = key(1);
        s.enroll(&k).await;
        let body =
            serde_json::to_string(&vigil_report::protocol::SubmitRequest { measurements: vec![measurement(&k, "p1")] })
                .unwrap();
        let (status, text) = s
            // The client wrote the first entry (a lie); the trusted proxy appended the real one.
            .request(reqwest::Method::POST, "/api/v1/submit", Some(body), &[("x-forwarded-for", "6.6.6.6, 1.0.0.7")])
            .await;
        assert_eq!(status, 200, "{text}");
        let want = if trust { 13335 } else { 64512 };
        assert_eq!(origin_of(&s, "p1").0, want, "trust_proxy = {trust}");
        s.stop().await;
        assert_nowhere(dir.path(), "1.0.0.7");
        assert_nowhere(dir.path(), "6.6.6.6");
    }
}

#[tokio::test]
async fn without_a_file_the_origin_is_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(config(dir.path())).await;
    let k = key(1);
    let collector = s.enroll(&k).await;
    s.submit_ok(&[measurement(&k, "u1")], &collector).await;
    assert_eq!(origin_of(&s, "u1").0, 0);
    assert_eq!(origin_of(&s, "u1").1, "ZZ");
}
