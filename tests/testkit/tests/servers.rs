//! Every testkit server, exercised with real clients over loopback.

mod servers {
    pub mod ca;
    pub mod control;
    pub mod dns;
    pub mod doh;
    pub mod web;
}
