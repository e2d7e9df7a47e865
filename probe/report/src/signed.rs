//! Signed envelopes: a measurement signed by the probe that made it, or a statement (an upload
//! acknowledgement, a probe configuration, a key rotation) signed by the collector.
//!
//! The signature covers the exact bytes of `format`, a newline, and `payload` (the JSON text as
//! produced); nothing is re-serialised before verifying, so anyone can check a published
//! measurement offline with the probe's public key:
//!
//! ```text
//! ok = ed25519_verify(public_key, (format + "\n" + payload).as_bytes(), base64_decode(signature))
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// `format` of a measurement signed by a probe.
pub const MEASUREMENT_FORMAT: &str = "vigil-measurement-v1";
/// `format` of a statement signed by a collector.
pub const STATEMENT_FORMAT: &str = "vigil-statement-v1";
/// What a probe signs to prove it holds the key it enrolls (`ENROLL_DOMAIN` + public key, base64).
pub const ENROLL_DOMAIN: &str = "vigil-enroll-v1\n";

/// Errors checking a signed envelope; each has a stable label (the collector's error codes).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignError {
    #[error("unknown format {0:?}")]
    Format(String),
    #[error("signature is not valid base64 of 64 bytes")]
    SignatureEncoding,
    #[error("public key is not valid base64 of 32 bytes")]
    KeyEncoding,
    #[error("key_id {got} does not belong to the verifying key {expected}")]
    KeyMismatch { got: String, expected: String },
    #[error("signature does not verify")]
    BadSignature,
    #[error("payload is not the expected JSON: {0}")]
    Payload(String),
}

impl SignError {
    pub fn label(&self) -> &'static str {
        match self {
            SignError::Format(_) => "bad_format",
            SignError::SignatureEncoding => "bad_signature_encoding",
            SignError::KeyEncoding => "bad_key_encoding",
            SignError::KeyMismatch { .. } => "key_mismatch",
            SignError::BadSignature => "bad_signature",
            SignError::Payload(_) => "bad_payload",
        }
    }
}

/// A signed envelope. `payload` is JSON text, kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signed {
    pub format: String,
    pub key_id: String,
    pub payload: String,
    /// Ed25519 signature, standard base64.
    pub signature: String,
}

/// The short id of a public key: hex of the first 16 bytes of its SHA-256.
pub fn key_id(key: &VerifyingKey) -> String {
    let digest = Sha256::digest(key.as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// A public key as published: standard base64 of its 32 bytes.
pub fn encode_public_key(key: &VerifyingKey) -> String {
    B64.encode(key.as_bytes())
}

pub fn decode_public_key(text: &str) -> Result<VerifyingKey, SignError> {
    let bytes = B64.decode(text.trim()).map_err(|_| SignError::KeyEncoding)?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| SignError::KeyEncoding)?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| SignError::KeyEncoding)
}

fn message(format: &str, payload: &str) -> Vec<u8> {
    let mut m = Vec::with_capacity(format.len() + 1 + payload.len());
    m.extend_from_slice(format.as_bytes());
    m.push(b'\n');
    m.extend_from_slice(payload.as_bytes());
    m
}

impl Signed {
    /// Sign `payload` (JSON text) as `format`.
    pub fn sign(format: &str, payload: String, key: &SigningKey) -> Signed {
        let signature = key.sign(&message(format, &payload));
        Signed {
            format: format.to_string(),
            key_id: key_id(&key.verifying_key()),
            payload,
            signature: B64.encode(signature.to_bytes()),
        }
    }

    /// Serialise `value` and sign it.
    pub fn sign_json<T: Serialize>(format: &str, value: &T, key: &SigningKey) -> Result<Signed, SignError> {
        let payload = serde_json::to_string(value).map_err(|e| SignError::Payload(e.to_string()))?;
        Ok(Signed::sign(format, payload, key))
    }

    /// The signature's bytes.
    pub fn signature(&self) -> Result<Signature, SignError> {
        let bytes = B64.decode(&self.signature).map_err(|_| SignError::SignatureEncoding)?;
        let bytes: [u8; 64] = bytes.try_into().map_err(|_| SignError::SignatureEncoding)?;
        Ok(Signature::from_bytes(&bytes))
    }

    /// The bytes the signature covers.
    pub fn signed_message(&self) -> Vec<u8> {
        message(&self.format, &self.payload)
    }

    /// Check the format, that `key` is the one named by `key_id`, and the signature.
    pub fn verify(&self, expected_format: &str, key: &VerifyingKey) -> Result<(), SignError> {
        if self.format != expected_format {
            return Err(SignError::Format(self.format.clone()));
        }
        let expected = key_id(key);
        if self.key_id != expected {
            return Err(SignError::KeyMismatch { got: self.key_id.clone(), expected });
        }
        let signature = self.signature()?;
        key.verify(&self.signed_message(), &signature).map_err(|_| SignError::BadSignature)
    }

    /// Parse the payload.
    pub fn payload_as<T: for<'de> Deserialize<'de>>(&self) -> Result<T, SignError> {
        serde_json::from_str(&self.payload).map_err(|e| SignError::Payload(e.to_string()))
    }
}

/// The proof a probe sends when enrolling: its signature over `ENROLL_DOMAIN` + its public key.
pub fn enrollment_proof(key: &SigningKey) -> String {
    let public = encode_public_key(&key.verifying_key());
    B64.encode(key.sign(format!("{ENROLL_DOMAIN}{public}").as_bytes()).to_bytes())
}

pub fn verify_enrollment_proof(public_key: &str, proof: &str) -> Result<VerifyingKey, SignError> {
    let key = decode_public_key(public_key)?;
    let bytes = B64.decode(proof).map_err(|_| SignError::SignatureEncoding)?;
    let bytes: [u8; 64] = bytes.try_into().map_err(|_| SignError::SignatureEncoding)?;
    key.verify(format!("{ENROLL_DOMAIN}{}", public_key.trim()).as_bytes(), &Signature::from_bytes(&bytes))
        .map_err(|_| SignError::BadSignature)?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    #[test]
    fn sign_then_verify_and_every_tamper_is_caught() {
        let k = key(7);
        let s = Signed::sign(MEASUREMENT_FORMAT, r#"{"id":"a","x":1}"#.into(), &k);
        assert_eq!(s.key_id.len(), 32);
        s.verify(MEASUREMENT_FORMAT, &k.verifying_key()).unwrap();

        let mut t = s.clone();
        t.payload = r#"{"id":"a","x":2}"#.into();
        assert_eq!(t.verify(MEASUREMENT_FORMAT, &k.verifying_key()), Err(SignError::BadSignature));
        assert_eq!(s.verify(STATEMENT_FORMAT, &k.verifying_key()).unwrap_err().label(), "bad_format");
        assert_eq!(s.verify(MEASUREMENT_FORMAT, &key(8).verifying_key()).unwrap_err().label(), "key_mismatch");
        let mut t = s.clone();
        t.signature = "not base64!".into();
        assert_eq!(t.verify(MEASUREMENT_FORMAT, &k.verifying_key()), Err(SignError::SignatureEncoding));
        // The format is covered too: relabelling a measurement as a statement breaks it.
        let mut t = s.clone();
        t.format = STATEMENT_FORMAT.into();
        assert_eq!(t.verify(STATEMENT_FORMAT, &k.verifying_key()), Err(SignError::BadSignature));
    }

    #[test]
    fn keys_round_trip_and_enrollment_proofs_bind_the_key() {
        let k = key(3);
        let public = encode_public_key(&k.verifying_key());
        assert_eq!(decode_public_key(&public).unwrap(), k.verifying_key());
        assert_eq!(decode_public_key("AAAA"), Err(SignError::KeyEncoding));
        let proof = enrollment_proof(&k);
        assert!(verify_enrollment_proof(&public, &proof).is_ok());
        let other = encode_public_key(&key(4).verifying_key());
        assert_eq!(verify_enrollment_proof(&other, &proof).unwrap_err(), SignError::BadSignature);
    }

    #[test]
    fn the_signed_message_is_format_newline_payload() {
        let k = key(9);
        let s = Signed::sign(MEASUREMENT_FORMAT, "{}".into(), &k);
        assert_eq!(s.signed_message(), b"vigil-measurement-v1\n{}");
        let sig = s.signature().unwrap();
        k.verifying_key().verify(b"vigil-measurement-v1\n{}", &sig).unwrap();
    }
}
