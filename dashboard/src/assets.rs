//! The static files, embedded in the binary: the stylesheet and the optional script. Served
//! under `/static/` with a long cache lifetime (their URLs carry [`VERSION`]).

/// Changes when an asset changes (the crate version and the assets' length).
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "-1");

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
