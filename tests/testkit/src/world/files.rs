//! The files the fake world writes: `probe.toml` (the probe's configuration pointing at the
//! fakes) and `battery.toml` in `vigil-probe`'s battery format, which it also reads.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{EndpointSpec, FakeWorld, PlatformSpec, WorldError, WorldOptions};

/// `probe.toml` for `world`: every key the probe needs to measure the fakes, nothing else.
pub(super) fn probe_toml(world: &FakeWorld, options: &WorldOptions) -> String {
    let t = options.timeouts;
    // The probe's key and spool live beside the configuration, never in the system's paths.
    let state = world.config.parent().unwrap_or(Path::new(".")).join("probe-state");
    let config = ProbeToml {
        dns: DnsToml {
            system: false,
            resolvers: vec![world.resolver.to_string()],
            doh: world.doh_url.clone(),
            timeout_ms: t.dns_ms,
        },
        network: NetworkToml {
            connect_timeout_ms: t.connect_ms,
            tls_timeout_ms: t.tls_ms,
            http_timeout_ms: t.http_ms,
            concurrency: options.concurrency,
            ca_files: vec![world.ca.display().to_string()],
            lab_nets: vec!["127.0.0.0/8".into()],
            ipv6: "never".into(),
        },
        control: ControlToml { url: world.control_url.clone() },
        battery: BatteryToml { file: world.battery.display().to_string() },
        identity: IdentityToml { key_file: state.join("probe.key").display().to_string() },
        spool: SpoolToml { dir: state.join("spool").display().to_string() },
    };
    let body = toml::to_string(&config).expect("plain strings and numbers serialize to TOML");
    format!("# vigil-probe configuration for the fake world on loopback (lab only).\n\n{body}")
}

pub(super) fn write(path: &Path, text: &str) -> Result<(), WorldError> {
    std::fs::write(path, text).map_err(|source| WorldError::Write { path: path.to_path_buf(), source })
}

#[derive(Serialize)]
struct ProbeToml {
    dns: DnsToml,
    network: NetworkToml,
    control: ControlToml,
    battery: BatteryToml,
    identity: IdentityToml,
    spool: SpoolToml,
}

#[derive(Serialize)]
struct IdentityToml {
    key_file: String,
}

#[derive(Serialize)]
struct SpoolToml {
    dir: String,
}

#[derive(Serialize)]
struct DnsToml {
    system: bool,
    resolvers: Vec<String>,
    doh: String,
    timeout_ms: u64,
}

#[derive(Serialize)]
struct NetworkToml {
    connect_timeout_ms: u64,
    tls_timeout_ms: u64,
    http_timeout_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    concurrency: Option<usize>,
    ca_files: Vec<String>,
    lab_nets: Vec<String>,
    ipv6: String,
}

#[derive(Serialize)]
struct ControlToml {
    url: String,
}

#[derive(Serialize)]
struct BatteryToml {
    file: String,
}

#[derive(Serialize, Deserialize)]
struct RawBattery {
    #[serde(default)]
    platform: Vec<RawPlatform>,
}

#[derive(Serialize, Deserialize)]
struct RawPlatform {
    id: String,
    name: String,
    kind: String,
    #[serde(default)]
    endpoint: Vec<RawEndpoint>,
}

#[derive(Serialize, Deserialize)]
struct RawEndpoint {
    group: String,
    input: String,
}

/// Write a battery in `vigil-probe`'s battery file format (`[[platform]]` with
/// `[[platform.endpoint]]`, as `vigil-probe battery --toml` prints it).
pub fn battery_toml(platforms: &[PlatformSpec]) -> String {
    let raw = RawBattery {
        platform: platforms
            .iter()
            .map(|p| RawPlatform {
                id: p.id.clone(),
                name: p.name.clone(),
                kind: p.kind.clone(),
                endpoint: p
                    .endpoints
                    .iter()
                    .map(|e| RawEndpoint { group: e.group.clone(), input: e.input.clone() })
                    .collect(),
            })
            .collect(),
    };
    toml::to_string(&raw).expect("strings serialize to TOML")
}

/// Read a battery file (the format of [`battery_toml`]); inputs are checked when the world starts.
pub fn parse_battery_toml(text: &str) -> Result<Vec<PlatformSpec>, toml::de::Error> {
    let raw: RawBattery = toml::from_str(text)?;
    Ok(raw
        .platform
        .into_iter()
        .map(|p| PlatformSpec {
            id: p.id,
            name: p.name,
            kind: p.kind,
            endpoints: p.endpoint.into_iter().map(|e| EndpointSpec { group: e.group, input: e.input }).collect(),
        })
        .collect())
}
