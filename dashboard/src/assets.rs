//! The static files, embedded in the binary: the stylesheet and the optional script. Served
//! under `/static/` with a long cache lifetime (their URLs carry [`version`], a hash of them).

use std::sync::OnceLock;

/// Changes when an asset changes: FNV-1a of the stylesheet and the script, in hex.
pub fn version() -> &'static str {
    static V: OnceLock<String> = OnceLock::new();
    V.get_or_init(|| {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in CSS.bytes().chain(JS.bytes()) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        format!("{h:016x}")
    })
}

pub const CSS: &str = include_str!("../assets/vigil.css");
pub const JS: &str = include_str!("../assets/vigil.js");

/// An asset by file name: (content type, bytes).
pub fn get(name: &str) -> Option<(&'static str, &'static [u8])> {
    match name {
        "vigil.css" => Some(("text/css; charset=utf-8", CSS.as_bytes())),
        "vigil.js" => Some(("text/javascript; charset=utf-8", JS.as_bytes())),
        _ => None,
    }
}
