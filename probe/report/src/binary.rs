//! Bytes received from the network, carried as OONI's data format does (df-001 "MaybeBinaryValue"):
//! valid UTF-8 as a plain JSON string, anything else as `{"format": "base64", "data": "..."}`, so
//! a signed measurement holds exactly the bytes that were received.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Received bytes: `Text` when they are valid UTF-8, `Binary` otherwise (see the module).
///
/// Serialized untagged: a string, or `{"format": "base64", "data": <standard base64>}`. What was
/// read is written back unchanged, so a signed record re-serializes to the same JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MaybeBinary {
    Text(String),
    Binary(Vec<u8>),
}

impl Default for MaybeBinary {
    fn default() -> Self {
        MaybeBinary::Text(String::new())
    }
}

impl MaybeBinary {
    /// `Text` when `bytes` are valid UTF-8, `Binary` otherwise.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        match String::from_utf8(bytes) {
            Ok(text) => MaybeBinary::Text(text),
            Err(e) => MaybeBinary::Binary(e.into_bytes()),
        }
    }

    /// The bytes as received.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            MaybeBinary::Text(t) => t.as_bytes(),
            MaybeBinary::Binary(b) => b,
        }
    }

    /// A text view for matching and display (invalid sequences become U+FFFD); never what is
    /// stored.
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            MaybeBinary::Text(t) => Cow::Borrowed(t),
            MaybeBinary::Binary(b) => String::from_utf8_lossy(b),
        }
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keep at most `cap` bytes (text is cut at a character boundary, so it stays text).
    pub fn truncate(&mut self, cap: usize) {
        match self {
            MaybeBinary::Text(t) => {
                let mut end = cap.min(t.len());
                while !t.is_char_boundary(end) {
                    end -= 1;
                }
                t.truncate(end);
            }
            MaybeBinary::Binary(b) => b.truncate(cap),
        }
    }
}

impl From<&str> for MaybeBinary {
    fn from(s: &str) -> Self {
        MaybeBinary::Text(s.to_string())
    }
}

impl From<String> for MaybeBinary {
    fn from(s: String) -> Self {
        MaybeBinary::Text(s)
    }
}

impl PartialEq<&str> for MaybeBinary {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Repr<'a> {
    Text(Cow<'a, str>),
    Encoded { format: Cow<'a, str>, data: Cow<'a, str> },
}

impl Serialize for MaybeBinary {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            MaybeBinary::Text(t) => Repr::Text(Cow::Borrowed(t)),
            MaybeBinary::Binary(b) => {
                Repr::Encoded { format: Cow::Borrowed("base64"), data: Cow::Owned(B64.encode(b)) }
            }
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for MaybeBinary {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match Repr::deserialize(d)? {
            Repr::Text(t) => Ok(MaybeBinary::Text(t.into_owned())),
            Repr::Encoded { format, data } if format == "base64" => B64
                .decode(data.as_bytes())
                .map(MaybeBinary::Binary)
                .map_err(|e| D::Error::custom(format!("invalid base64 in a binary value: {e}"))),
            Repr::Encoded { format, .. } => {
                Err(D::Error::custom(format!("unknown binary value format {format:?} (expected \"base64\")")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_utf8_is_a_plain_string() {
        let v = MaybeBinary::from_bytes("héllo <b>".as_bytes().to_vec());
        assert_eq!(v, MaybeBinary::Text("héllo <b>".into()));
        assert_eq!(serde_json::to_string(&v).unwrap(), "\"héllo <b>\"");
        assert_eq!(serde_json::from_str::<MaybeBinary>("\"héllo <b>\"").unwrap(), v);
    }

    #[test]
    fn invalid_utf8_round_trips_byte_for_byte_as_base64() {
        // windows-1251 "Доступ" and a lone continuation byte: not UTF-8.
        let bytes: Vec<u8> = vec![0xc4, 0xee, 0xf1, 0xf2, 0xf3, 0xef, b' ', 0x80, 0x00, 0xff];
        let v = MaybeBinary::from_bytes(bytes.clone());
        assert!(matches!(v, MaybeBinary::Binary(_)));
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json, serde_json::json!({"format": "base64", "data": B64.encode(&bytes)}));
        let back: MaybeBinary = serde_json::from_value(json).unwrap();
        assert_eq!(back.as_bytes(), &bytes[..]);
        assert_eq!(back, v);
        assert!(v.text().contains('\u{fffd}'), "the text view is lossy, the value is not");
    }

    #[test]
    fn what_was_read_is_written_back_unchanged() {
        // Another producer may base64 a body that is valid UTF-8: it stays base64.
        let json = r#"{"format":"base64","data":"aGk="}"#;
        let v: MaybeBinary = serde_json::from_str(json).unwrap();
        assert_eq!(v.as_bytes(), b"hi");
        assert_eq!(serde_json::to_string(&v).unwrap(), json);
    }

    #[test]
    fn bad_binary_values_are_named() {
        let e = serde_json::from_str::<MaybeBinary>(r#"{"format":"hex","data":"00"}"#).unwrap_err();
        assert!(e.to_string().contains("unknown binary value format \"hex\""), "{e}");
        let e = serde_json::from_str::<MaybeBinary>(r#"{"format":"base64","data":"!!"}"#).unwrap_err();
        assert!(e.to_string().contains("invalid base64"), "{e}");
        assert!(serde_json::from_str::<MaybeBinary>("12").is_err());
    }

    #[test]
    fn truncation_keeps_text_text_and_cuts_binary_bytes() {
        let mut t = MaybeBinary::from("ééé");
        t.truncate(3);
        assert_eq!(t, "é");
        let mut b = MaybeBinary::from_bytes(vec![0xff, 1, 2, 3]);
        b.truncate(2);
        assert_eq!(b.as_bytes(), &[0xff, 1]);
    }
}
