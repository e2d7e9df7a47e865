//! The in-memory table of enrolled probe keys, read by every submission and kept in step with
//! the database by the writer (updated only after the change is committed).

use std::collections::HashMap;
use std::sync::RwLock;

use ed25519_dalek::VerifyingKey;
use rusqlite::Connection;
use vigil_report::signed::decode_public_key;

/// One enrolled key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeKey {
    pub key: VerifyingKey,
    pub revoked: bool,
}

/// Probe keys by key id.
#[derive(Debug, Default)]
pub struct ProbeKeys {
    map: RwLock<HashMap<String, ProbeKey>>,
}

impl ProbeKeys {
    /// Every key in the database (a key that no longer decodes is left out: it cannot verify).
    pub fn load(conn: &Connection) -> rusqlite::Result<ProbeKeys> {
        let mut stmt = conn.prepare("SELECT key_id, public_key, revoked_at IS NOT NULL FROM probes")?;
        let rows =
            stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, bool>(2)?)))?;
        let mut map = HashMap::new();
        for row in rows {
            let (key_id, public, revoked) = row?;
            if let Ok(key) = decode_public_key(&public) {
                map.insert(key_id, ProbeKey { key, revoked });
            }
        }
        Ok(ProbeKeys { map: RwLock::new(map) })
    }

    pub fn get(&self, key_id: &str) -> Option<ProbeKey> {
        self.map.read().unwrap_or_else(|e| e.into_inner()).get(key_id).copied()
    }

    /// Look up many keys under one lock.
    pub fn get_many<'a>(&self, key_ids: impl Iterator<Item = &'a str>) -> Vec<Option<ProbeKey>> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        key_ids.map(|k| map.get(k).copied()).collect()
    }

    pub fn insert(&self, key_id: String, key: ProbeKey) {
        self.map.write().unwrap_or_else(|e| e.into_inner()).insert(key_id, key);
    }

    pub fn revoke(&self, key_id: &str) {
        if let Some(k) = self.map.write().unwrap_or_else(|e| e.into_inner()).get_mut(key_id) {
            k.revoked = true;
        }
    }

    pub fn len(&self) -> usize {
        self.map.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
