//! Offline verification of published measurements against published probe keys: the logic of
//! `vigil-collector verify`, needing no collector and no network.

use std::collections::HashMap;

use vigil_report::protocol::PublishedKey;
use vigil_report::signed::decode_public_key;
use vigil_report::{MEASUREMENT_FORMAT, Signed};

/// Errors reading the inputs (not verification failures, which are per measurement).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InputError {
    #[error("measurements, line {line}: not a signed measurement: {message}")]
    Envelope { line: usize, message: String },
    #[error("keys: not a JSON array of published keys: {0}")]
    Keys(String),
}

/// Parse a JSON array of envelopes, or JSON Lines (one envelope per line, blank lines skipped).
pub fn parse_envelopes(text: &str) -> Result<Vec<Signed>, InputError> {
    if text.trim_start().starts_with('[') {
        return serde_json::from_str(text).map_err(|e| InputError::Envelope { line: e.line(), message: e.to_string() });
    }
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| InputError::Envelope { line: i + 1, message: e.to_string() }))
        .collect()
}

pub fn parse_keys(text: &str) -> Result<Vec<PublishedKey>, InputError> {
    serde_json::from_str(text).map_err(|e| InputError::Keys(e.to_string()))
}

/// The verdict on one measurement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The measurement id, or `#n` (1-based position) when the payload has none.
    pub id: String,
    pub key_id: String,
    /// Err is (stable label, message).
    pub result: Result<(), (String, String)>,
    /// The key was revoked (the signature may still be good: revocation is not retroactive).
    pub revoked_at: Option<String>,
}

impl Verdict {
    /// The line the CLI prints.
    pub fn line(&self) -> String {
        match &self.result {
            Ok(()) => match &self.revoked_at {
                Some(at) => format!("ok {} key {} (key revoked at {at})", self.id, self.key_id),
                None => format!("ok {} key {}", self.id, self.key_id),
            },
            Err((label, message)) => format!("FAIL {} key {}: {label}: {message}", self.id, self.key_id),
        }
    }
}

fn id_of(signed: &Signed, position: usize) -> String {
    #[derive(serde::Deserialize)]
    struct IdOnly {
        id: String,
    }
    serde_json::from_str::<IdOnly>(&signed.payload).map(|p| p.id).unwrap_or_else(|_| format!("#{position}"))
}

/// Verify every envelope with the key its `key_id` names.
pub fn verify_all(envelopes: &[Signed], keys: &[PublishedKey]) -> Vec<Verdict> {
    let by_id: HashMap<&str, &PublishedKey> = keys.iter().map(|k| (k.key_id.as_str(), k)).collect();
    envelopes
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let id = id_of(s, i + 1);
            let published = by_id.get(s.key_id.as_str());
            let result = match published {
                None => Err(("unknown_key".to_string(), "no published key has this key id".to_string())),
                Some(k) => decode_public_key(&k.public_key)
                    .and_then(|key| s.verify(MEASUREMENT_FORMAT, &key))
                    .map_err(|e| (e.label().to_string(), e.to_string())),
            };
            Verdict { id, key_id: s.key_id.clone(), result, revoked_at: published.and_then(|k| k.revoked_at.clone()) }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use vigil_report::signed::{encode_public_key, key_id};

    #[test]
    fn arrays_and_json_lines_parse_and_tampering_fails() {
        let k = SigningKey::from_bytes(&[5; 32]);
        let s = Signed::sign(MEASUREMENT_FORMAT, r#"{"id":"m1"}"#.into(), &k);
        let keys = vec![PublishedKey {
            key_id: key_id(&k.verifying_key()),
            public_key: encode_public_key(&k.verifying_key()),
            enrolled_at: "2026-01-01T00:00:00Z".into(),
            revoked_at: None,
        }];
        let mut bad = s.clone();
        bad.payload = r#"{"id":"m2"}"#.into();
        let lines = format!("{}\n\n{}\n", serde_json::to_string(&s).unwrap(), serde_json::to_string(&bad).unwrap());
        let parsed = parse_envelopes(&lines).unwrap();
        assert_eq!(parsed, parse_envelopes(&serde_json::to_string(&vec![&s, &bad]).unwrap()).unwrap());
        let v = verify_all(&parsed, &keys);
        assert_eq!(v[0].result, Ok(()));
        assert_eq!(v[1].id, "m2");
        assert_eq!(v[1].result.as_ref().unwrap_err().0, "bad_signature");
        assert_eq!(verify_all(&parsed, &[])[0].result.as_ref().unwrap_err().0, "unknown_key");
        let broken = format!("{}\nnot json\n", serde_json::to_string(&s).unwrap());
        assert!(matches!(parse_envelopes(&broken), Err(InputError::Envelope { line: 2, .. })));
        assert!(matches!(parse_envelopes("{\"x\":1}"), Err(InputError::Envelope { line: 1, .. })));
    }
}
