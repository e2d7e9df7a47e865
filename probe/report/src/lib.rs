//! Vigil's data format, defined once and shared by the probe and the collector.
//!
//! It holds plain data types only (serde), never network code, so the collector can depend
//! on it without pulling in the probe's network stack. See `docs/measurement-format.md`.
//! `addr` is the one list of non-public address ranges, shared by the probe and the control;
//! `scrub` replaces IP addresses in free text (failure texts, reasons) before signing;
//! `limits` bounds every string a probe sends that the collector stores or publishes.

pub mod addr;
pub mod binary;
pub mod control;
pub mod failure;
pub mod limits;
pub mod measurement;
pub mod protocol;
pub mod scrub;
pub mod signed;
pub mod verdict;

pub use binary::MaybeBinary;
pub use control::{ControlHttp, ControlRequest, ControlResponse, ControlTcp, ControlTls, IpInfo};
pub use failure::Failure;
pub use measurement::{
    DnsAnswer, DnsQuery, HeartbeatKeys, HttpRequest, HttpResponse, HttpTransaction, Measurement, PlatformEndpoint,
    PlatformKeys, TcpConnect, TcpStatus, ThrottleArm, ThrottleMechanism, ThrottleTransfer, ThrottleVerdict,
    ThrottlingKeys, TlsHandshake, WebKeys,
};
pub use signed::{MEASUREMENT_FORMAT, STATEMENT_FORMAT, SignError, Signed};
pub use verdict::{Blocking, Mechanism, MechanismFamily, PlatformStatus};

/// `software_name` written into every measurement.
pub const SOFTWARE_NAME: &str = "vigil-probe";
/// `data_format_version` of the OONI base format we follow.
pub const DATA_FORMAT_VERSION: &str = "0.2.0";
/// `test_name` of the per-endpoint reachability test.
pub const WEB_TEST_NAME: &str = "vigil_web_connectivity";
/// `test_name` of the per-platform summary.
pub const PLATFORM_TEST_NAME: &str = "vigil_platform";
/// `test_name` of the light heartbeat a probe sends every few minutes.
pub const HEARTBEAT_TEST_NAME: &str = "vigil_heartbeat";
/// `test_name` of a per-platform throttling summary.
pub const THROTTLING_TEST_NAME: &str = "vigil_throttling";
/// Version of the tests' `test_keys` layouts.
pub const TEST_VERSION: &str = "0.1.0";
