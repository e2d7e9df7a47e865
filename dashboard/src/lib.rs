//! Vigil's dashboard: server-rendered HTML pages with inline SVG timelines (no JavaScript
//! needed, assets embedded, no external resources), in several languages (`i18n/*.toml`),
//! right-to-left ones mirrored. The collector fills the plain data types of [`model`] from its
//! store and serves the pages; this crate only renders.

pub mod assets;
pub mod disclosures;
pub mod event;
pub mod i18n;
pub mod layout;
pub mod model;
pub mod overview;
pub mod parts;
pub mod place;
pub mod svg;
pub mod words;
pub mod xml;

pub use layout::Ctx;
