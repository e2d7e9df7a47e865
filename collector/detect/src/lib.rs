//! Vigil's detection logic, free of storage and network code so it can be tested exhaustively
//! and benchmarked.
//!
//! - [`obs`]: the input, one [`Observation`] per stored measurement, and how the collector
//!   derives it from a stored row ([`obs::observe`]).
//! - [`detect()`]: a pure function from the observations of a time window to the events it
//!   supports: platform blocking, shutdowns (per ASN and per country) and throttling.
//! - [`downtime`]: the collector's own gaps (not running, or hearing no one), an input that
//!   keeps its silence from being read as the networks'.
//! - [`stream`]: the [`Detector`], detection fed as observations arrive (checkpointed per
//!   scope); [`detect()`] is one fed at once.
//! - [`revise`]: compares a new detection with what was published and says what changed and
//!   why; a published event is never silently rewritten, every change is a new revision.
//! - [`publish`]: the publication rules of a pass (what is left as published, the ids and
//!   revisions written), shared by the collector and the simulator's loop.
//! - [`sim`]: a seeded fleet simulator (ground truth in, observations and measurement JSON out)
//!   and a scorer (precision, recall, start/end errors) for tests, benchmarks and the demo.
//!
//! Times are Unix seconds (UTC) throughout.

pub mod detect;
pub mod downtime;
pub mod event;
pub mod obs;
pub mod params;
pub mod publish;
pub mod revise;
pub mod sim;
mod stats;
pub mod stream;

pub use downtime::{Downtime, Gap, GapKind, quiet_is_own};
pub use event::{Basis, Cause, DetectedEvent, EventType, Evidence, Scope, SetAside, SourceSupport, Status};
pub use obs::{Meta, Observation, PlatformKind, Source, ThrottleVerdict, What};
pub use params::Params;
pub use revise::{Change, FieldChange, PublishedEvent, reconcile, reconcile_with};
pub use stream::{Detector, ScopeKey, detect, detect_with, held_from};
