//! OONI's imported measurements, kept apart from Vigil's signed ones: the `ooni_measurements`
//! table (created by `detect_store::MIGRATION`). They are never signed, never served as signed
//! evidence; their observations carry source `ooni` (`vigil_detect::Source::Ooni`) and are
//! written with them, in the same transaction. `ooni` reads OONI's files into these rows.

use rusqlite::{Connection, OptionalExtension, params};

/// One OONI measurement as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct OoniRow {
    /// OONI's `measurement_uid`, or one derived from `report_id`, `input` and the start time
    /// when the record has none.
    pub uid: String,
    pub report_id: String,
    pub test_name: String,
    pub input: Option<String>,
    /// OONI's `YYYY-MM-DD HH:MM:SS` (UTC).
    pub measurement_start_time: String,
    pub probe_cc: String,
    /// The number of OONI's `probe_asn` (`AS20294` → 20294).
    pub probe_asn: u32,
    /// The measurement as OONI published it (JSON).
    pub payload: String,
    /// Its observation for detection (`measurement_id` = `uid`), stored only with a new row.
    pub observation: Option<vigil_detect::Observation>,
}

/// Store OONI measurements imported at `imported_at` (Unix s), in the caller's transaction,
/// with their observations; one already stored (same `uid`) is left as it is, its observation
/// too. Returns how many were new.
pub fn insert(conn: &Connection, rows: &[OoniRow], imported_at: i64) -> rusqlite::Result<usize> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO ooni_measurements (uid, report_id, test_name, input, measurement_start_time, probe_cc,
             probe_asn, imported_at, payload)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT(uid) DO NOTHING",
    )?;
    let mut new = 0;
    for r in rows {
        let added = stmt.execute(params![
            r.uid,
            r.report_id,
            r.test_name,
            r.input,
            r.measurement_start_time,
            r.probe_cc,
            r.probe_asn,
            imported_at,
            r.payload
        ])?;
        if added == 1
            && let Some(o) = &r.observation
        {
            crate::observation_store::insert_observation(conn, &r.test_name, o)?;
        }
        new += added;
    }
    Ok(new)
}

/// One stored OONI measurement by uid.
pub fn get(conn: &Connection, uid: &str) -> rusqlite::Result<Option<OoniRow>> {
    conn.query_row(
        "SELECT uid, report_id, test_name, input, measurement_start_time, probe_cc, probe_asn, payload
         FROM ooni_measurements WHERE uid = ?1",
        params![uid],
        |r| {
            Ok(OoniRow {
                uid: r.get(0)?,
                report_id: r.get(1)?,
                test_name: r.get(2)?,
                input: r.get(3)?,
                measurement_start_time: r.get(4)?,
                probe_cc: r.get(5)?,
                probe_asn: r.get(6)?,
                payload: r.get(7)?,
                observation: None,
            })
        },
    )
    .optional()
}

/// How many OONI measurements are stored.
pub fn count(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT COUNT(*) FROM ooni_measurements", [], |r| r.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(uid: &str, input: Option<&str>) -> OoniRow {
        OoniRow {
            uid: uid.into(),
            report_id: "20240101T000000Z_webconnectivity_UG_20294_n1_abc".into(),
            test_name: "web_connectivity".into(),
            input: input.map(str::to_string),
            measurement_start_time: "2024-01-01 00:00:00".into(),
            probe_cc: "UG".into(),
            probe_asn: 20294,
            payload: r#"{"test_keys":{"blocking":"dns"}}"#.into(),
            observation: None,
        }
    }

    #[test]
    fn ooni_rows_are_stored_once_and_read_back_from_a_real_database() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = crate::store::open_and_migrate(&dir.path().join("vigil.db")).unwrap();
        let rows = [row("u1", Some("https://twitter.com/")), row("u2", None)];
        let tx = conn.transaction().unwrap();
        assert_eq!(insert(&tx, &rows, 1000).unwrap(), 2);
        tx.commit().unwrap();
        // A re-import of the same file adds nothing and changes nothing.
        let mut again = row("u1", Some("https://x.com/"));
        again.payload = "{}".into();
        assert_eq!(insert(&conn, &[again], 2000).unwrap(), 0);
        assert_eq!(count(&conn).unwrap(), 2);
        assert_eq!(get(&conn, "u1").unwrap(), Some(rows[0].clone()));
        assert_eq!(get(&conn, "u2").unwrap(), Some(rows[1].clone()));
        assert_eq!(get(&conn, "u3").unwrap(), None);
        let imported: i64 =
            conn.query_row("SELECT imported_at FROM ooni_measurements WHERE uid = 'u1'", [], |r| r.get(0)).unwrap();
        assert_eq!(imported, 1000);
        // Nothing of it is a Vigil measurement.
        let vigil: i64 = conn.query_row("SELECT COUNT(*) FROM measurements", [], |r| r.get(0)).unwrap();
        assert_eq!(vigil, 0);
    }
}
