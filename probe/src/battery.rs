//! The test battery: which platforms the probe measures, through which endpoints. The built-in
//! battery is `data/battery.toml`, embedded in the binary; operators may load their own.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use url::Url;

/// What an endpoint is: a URL to fetch or a TCP port to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// An `http://` or `https://` URL.
    Url(Url),
    /// `tcpconnect://host:port`; `host` is a name or an IP literal (IPv6 without brackets).
    Tcp { host: String, port: u16 },
}

/// Why an endpoint input was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("invalid URL: {0}")]
    Url(#[from] url::ParseError),
    #[error("unsupported scheme {0:?} (expected https, http or tcpconnect)")]
    Scheme(String),
    #[error("missing host")]
    MissingHost,
    #[error("tcpconnect input needs a port (tcpconnect://host:port)")]
    MissingPort,
    #[error("port 0 is not a port")]
    PortZero,
    #[error("tcpconnect input takes only host:port, not {0:?}")]
    TcpExtra(String),
    #[error("credentials in URLs are not allowed")]
    Credentials,
}

impl Input {
    /// The host to resolve or connect to (IPv6 literals without brackets).
    pub fn host(&self) -> &str {
        match self {
            Input::Url(url) => url.host_str().unwrap_or_default().trim_matches(['[', ']']),
            Input::Tcp { host, .. } => host,
        }
    }

    /// The port to connect to (the scheme's default for URLs without one).
    pub fn port(&self) -> u16 {
        match self {
            Input::Url(url) => url.port_or_known_default().unwrap_or(443),
            Input::Tcp { port, .. } => *port,
        }
    }

    /// Like `parse`, but a bare name or `name/path` means `https://name/path` (for the command line).
    pub fn parse_lenient(text: &str) -> Result<Input, InputError> {
        if text.contains("://") { text.parse() } else { format!("https://{text}").parse() }
    }
}

impl FromStr for Input {
    type Err = InputError;

    fn from_str(s: &str) -> Result<Self, InputError> {
        let url = Url::parse(s)?;
        let tcp = match url.scheme() {
            "https" | "http" => false,
            "tcpconnect" => true,
            other => return Err(InputError::Scheme(other.to_string())),
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(InputError::Credentials);
        }
        let host = url.host_str().filter(|h| !h.is_empty()).ok_or(InputError::MissingHost)?;
        if !tcp {
            return Ok(Input::Url(url));
        }
        let port = url.port().ok_or(InputError::MissingPort)?;
        if port == 0 {
            return Err(InputError::PortZero);
        }
        if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
            let tail = &url[url::Position::AfterPort..];
            return Err(InputError::TcpExtra(tail.to_string()));
        }
        let host = host.trim_matches(['[', ']']).to_string();
        Ok(Input::Tcp { host, port })
    }
}

impl fmt::Display for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Input::Url(url) => f.write_str(url.as_str()),
            Input::Tcp { host, port } if host.contains(':') => {
                write!(f, "tcpconnect://[{host}]:{port}")
            }
            Input::Tcp { host, port } => write!(f, "tcpconnect://{host}:{port}"),
        }
    }
}

/// Whether a platform is a service to measure or a neutral control site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlatformKind {
    Platform,
    Control,
}

impl PlatformKind {
    /// The label used in measurements (`PlatformKeys::kind`).
    pub fn as_str(self) -> &'static str {
        match self {
            PlatformKind::Platform => "platform",
            PlatformKind::Control => "control",
        }
    }
}

/// One endpoint; endpoints sharing a `group` are alternatives (the group is blocked only if all fail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub group: String,
    pub input: Input,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// Stable id used in measurements (`whatsapp`).
    pub id: String,
    /// Display name (`WhatsApp`).
    pub name: String,
    pub kind: PlatformKind,
    pub endpoints: Vec<Endpoint>,
    /// What the throttling test sends for this platform (none: the platform is not tested).
    pub throttle: Option<ThrottleTarget>,
}

/// A platform's arms in the throttling test (`[platform.throttle]` in a battery file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThrottleTarget {
    /// The SNI sent to the decoy in arm T1 (a name the censor's DPI matches, e.g. `abs.twimg.com`).
    pub sni: String,
    /// Arm T2: a public static object on the platform's own CDN (at least ~160 KiB; only the
    /// first `throttle.object_bytes` are read). None: no T2/C2 arms for this platform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Battery {
    pub platforms: Vec<Platform>,
}

/// Why a battery file was rejected.
#[derive(Debug, thiserror::Error)]
pub enum BatteryError {
    #[error("battery: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("platform id {0:?}: use 1 to 32 lowercase letters, digits, '_' or '-'")]
    BadId(String),
    #[error("platform id {0:?} is used twice")]
    DuplicateId(String),
    #[error("platform {0:?} has no endpoints")]
    NoEndpoints(String),
    #[error("platform {platform:?} endpoint {index}: empty group")]
    EmptyGroup { platform: String, index: usize },
    #[error("platform {platform:?} endpoint {index} ({input:?}): {source}")]
    BadInput {
        platform: String,
        /// 1-based position among the platform's endpoints.
        index: usize,
        input: String,
        #[source]
        source: InputError,
    },
    #[error("the battery needs at least one platform of kind \"control\"")]
    NoControl,
    #[error("unknown platform {0:?}")]
    UnknownPlatform(String),
    #[error("platform {platform:?} throttle: {message}")]
    BadThrottle { platform: String, message: String },
}

fn check_throttle_target(platform: &str, t: &ThrottleTarget) -> Result<(), BatteryError> {
    let bad = |message: String| BatteryError::BadThrottle { platform: platform.to_string(), message };
    if rustls_pki_types::ServerName::try_from(t.sni.as_str()).is_err() || t.sni.parse::<std::net::IpAddr>().is_ok() {
        return Err(bad(format!("sni {:?} is not a host name", t.sni)));
    }
    if let Some(object) = &t.object {
        let url = Url::parse(object).map_err(|e| bad(format!("object {object:?}: {e}")))?;
        if url.scheme() != "https" || url.host_str().is_none() {
            return Err(bad(format!("object {object:?}: must be an https:// URL")));
        }
    }
    Ok(())
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBattery {
    #[serde(default)]
    platform: Vec<RawPlatform>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlatform {
    id: String,
    name: String,
    kind: PlatformKind,
    #[serde(default)]
    endpoint: Vec<RawEndpoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    throttle: Option<ThrottleTarget>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEndpoint {
    group: String,
    input: String,
}

impl Battery {
    /// The battery shipped with the probe (`data/battery.toml`).
    pub fn builtin() -> Battery {
        static BUILTIN: OnceLock<Battery> = OnceLock::new();
        BUILTIN
            .get_or_init(|| {
                Battery::from_toml(include_str!("../data/battery.toml"))
                    .expect("embedded battery.toml is valid (tested)")
            })
            .clone()
    }

    /// Parses and validates a battery file.
    pub fn from_toml(text: &str) -> Result<Battery, BatteryError> {
        let raw: RawBattery = toml::from_str(text)?;
        let mut seen = HashSet::new();
        let mut platforms = Vec::with_capacity(raw.platform.len());
        for p in raw.platform {
            // Stricter than the collector's rule (vigil_report::limits::platform_id), never looser.
            let id_ok = (1..=vigil_report::limits::MAX_PLATFORM_ID).contains(&p.id.len())
                && p.id.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-'));
            if !id_ok {
                return Err(BatteryError::BadId(p.id));
            }
            if !seen.insert(p.id.clone()) {
                return Err(BatteryError::DuplicateId(p.id));
            }
            if p.endpoint.is_empty() {
                return Err(BatteryError::NoEndpoints(p.id));
            }
            let mut endpoints = Vec::with_capacity(p.endpoint.len());
            for (i, e) in p.endpoint.into_iter().enumerate() {
                let index = i + 1;
                if e.group.trim().is_empty() {
                    return Err(BatteryError::EmptyGroup { platform: p.id, index });
                }
                match e.input.parse() {
                    Ok(input) => endpoints.push(Endpoint { group: e.group, input }),
                    Err(source) => {
                        let (platform, input) = (p.id, e.input);
                        return Err(BatteryError::BadInput { platform, index, input, source });
                    }
                }
            }
            if let Some(t) = &p.throttle {
                check_throttle_target(&p.id, t)?;
            }
            platforms.push(Platform { id: p.id, name: p.name, kind: p.kind, endpoints, throttle: p.throttle });
        }
        if !platforms.iter().any(|p| p.kind == PlatformKind::Control) {
            return Err(BatteryError::NoControl);
        }
        Ok(Battery { platforms })
    }

    /// The battery in the format of `data/battery.toml` (what `from_toml` reads).
    pub fn to_toml(&self) -> String {
        let raw = RawBattery {
            platform: self
                .platforms
                .iter()
                .map(|p| RawPlatform {
                    id: p.id.clone(),
                    name: p.name.clone(),
                    kind: p.kind,
                    endpoint: p
                        .endpoints
                        .iter()
                        .map(|e| RawEndpoint { group: e.group.clone(), input: e.input.to_string() })
                        .collect(),
                    throttle: p.throttle.clone(),
                })
                .collect(),
        };
        toml::to_string(&raw).expect("strings and enums always serialize to TOML")
    }

    /// The platform with this id.
    pub fn platform(&self, id: &str) -> Option<&Platform> {
        self.platforms.iter().find(|p| p.id == id)
    }

    /// Only the platforms named in `ids`, plus every control (needed to tell blocking from an
    /// outage), in battery order. An unknown id is an error.
    pub fn select(&self, ids: &[String]) -> Result<Battery, BatteryError> {
        if let Some(unknown) = ids.iter().find(|id| self.platform(id).is_none()) {
            return Err(BatteryError::UnknownPlatform(unknown.clone()));
        }
        let platforms =
            self.platforms.iter().filter(|p| p.kind == PlatformKind::Control || ids.contains(&p.id)).cloned().collect();
        Ok(Battery { platforms })
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;

    const MINIMAL: &str = r#"
[[platform]]
id = "chat"
name = "Chat"
kind = "platform"
[[platform.endpoint]]
group = "web"
input = "https://chat.example/"

[[platform]]
id = "neutral"
name = "Neutral"
kind = "control"
[[platform.endpoint]]
group = "web"
input = "https://www.example.com/"
"#;

    fn err(text: &str) -> String {
        Battery::from_toml(text).unwrap_err().to_string()
    }

    fn input_err(s: &str) -> InputError {
        s.parse::<Input>().unwrap_err()
    }

    #[test]
    fn throttle_tables_round_trip_and_bad_ones_are_named() {
        let builtin = Battery::builtin();
        let x = builtin.platform("x").unwrap();
        assert_eq!(x.throttle.as_ref().map(|t| t.sni.as_str()), Some("abs.twimg.com"));
        assert_eq!(Battery::from_toml(&builtin.to_toml()).unwrap(), builtin);
        let with = |table: &str| MINIMAL.replacen("kind = \"platform\"\n", &format!("kind = \"platform\"\n{table}"), 1);
        let ok = Battery::from_toml(&with(
            "[platform.throttle]\nsni = \"cdn.chat.example\"\nobject = \"https://cdn.chat.example/o\"\n",
        ))
        .unwrap();
        assert_eq!(ok.platforms[0].throttle.as_ref().unwrap().object.as_deref(), Some("https://cdn.chat.example/o"));
        for (table, needle) in [
            ("[platform.throttle]\nsni = \"10.0.0.1\"\n", "10.0.0.1"),
            ("[platform.throttle]\nsni = \"a.example\"\nobject = \"http://a.example/\"\n", "https://"),
            ("[platform.throttle]\nsni = \"a.example\"\nspeed = 1\n", "speed"),
        ] {
            let err = Battery::from_toml(&with(table)).unwrap_err().to_string();
            assert!(err.contains(needle), "{err} should name {needle}");
        }
    }

    #[test]
    fn the_collector_knows_every_builtin_platform() {
        let builtin = Battery::builtin();
        let ids: Vec<&str> = builtin.platforms.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, vigil_report::limits::BUILTIN_PLATFORM_IDS);
        let long = builtin.to_toml().replace("\"x\"", &format!("{:?}", "x".repeat(33)));
        assert!(matches!(Battery::from_toml(&long), Err(BatteryError::BadId(_))));
    }

    #[test]
    fn builtin_battery_has_platforms_and_controls() {
        let b = Battery::builtin();
        let count = |kind| b.platforms.iter().filter(|p| p.kind == kind).count();
        assert!(count(PlatformKind::Platform) >= 10);
        assert!(count(PlatformKind::Control) >= 2);
        for id in ["facebook", "instagram", "whatsapp", "messenger", "x", "youtube", "tiktok"] {
            assert!(b.platform(id).is_some(), "{id}");
        }
        for id in ["telegram", "signal", "vk", "example", "wikipedia"] {
            assert!(b.platform(id).is_some(), "{id}");
        }
    }

    #[test]
    fn whatsapp_endpoints_are_one_group_of_32() {
        let wa = Battery::builtin().platform("whatsapp").cloned().unwrap();
        let group: Vec<_> = wa.endpoints.iter().filter(|e| e.group == "endpoints").collect();
        assert_eq!(group.len(), 32);
        for n in 1..=16 {
            for port in [443, 5222] {
                let want = Input::Tcp { host: format!("e{n}.whatsapp.net"), port };
                assert!(group.iter().any(|e| e.input == want), "{want}");
            }
        }
        let inputs: Vec<_> = wa.endpoints.iter().map(|e| e.input.to_string()).collect();
        assert!(inputs.contains(&"https://v.whatsapp.net/v2/register".to_string()));
        assert!(inputs.contains(&"https://web.whatsapp.com/".to_string()));
    }

    #[test]
    fn telegram_has_data_centre_ips_on_80_and_443() {
        let tg = Battery::builtin().platform("telegram").cloned().unwrap();
        let dcs: Vec<_> = tg.endpoints.iter().filter(|e| e.group == "datacenters").collect();
        assert_eq!(dcs.len(), 12);
        assert!(dcs.iter().all(|e| e.input.host().parse::<IpAddr>().is_ok()));
        assert_eq!(dcs.iter().filter(|e| e.input.port() == 80).count(), 6);
        assert_eq!(dcs.iter().filter(|e| e.input.port() == 443).count(), 6);
        assert!(dcs.iter().any(|e| e.input.to_string() == "http://149.154.175.50:443/"));
    }

    #[test]
    fn builtin_inputs_display_exactly_as_written() {
        let raw: toml::Table = toml::from_str(include_str!("../data/battery.toml")).unwrap();
        let written: Vec<&str> = raw["platform"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p["endpoint"].as_array().unwrap())
            .map(|e| e["input"].as_str().unwrap())
            .collect();
        let b = Battery::builtin();
        let shown: Vec<String> = b.platforms.iter().flat_map(|p| &p.endpoints).map(|e| e.input.to_string()).collect();
        assert_eq!(shown, written);
    }

    #[test]
    fn unknown_keys_are_rejected_by_name() {
        let e = err(&MINIMAL.replace("kind = \"platform\"", "kind = \"platform\"\ncolour = \"blue\""));
        assert!(e.contains("unknown field `colour`"), "{e}");
        let e = err(&MINIMAL.replace("group = \"web\"", "group = \"web\"\nweight = 3"));
        assert!(e.contains("unknown field `weight`"), "{e}");
        let e = err(&format!("version = 2\n{MINIMAL}"));
        assert!(e.contains("unknown field `version`"), "{e}");
        let e = err(&MINIMAL.replace("kind = \"control\"", "kind = \"neutral\""));
        assert!(e.contains("unknown variant `neutral`"), "{e}");
    }

    #[test]
    fn validation_names_the_platform_and_endpoint_at_fault() {
        assert!(Battery::from_toml(MINIMAL).is_ok());
        let e = err(&MINIMAL.replace("https://chat.example/", "ftp://chat.example/"));
        assert_eq!(
            e,
            "platform \"chat\" endpoint 1 (\"ftp://chat.example/\"): unsupported scheme \"ftp\" \
             (expected https, http or tcpconnect)"
        );
        let e = err(&MINIMAL.replace("id = \"neutral\"", "id = \"chat\""));
        assert_eq!(e, "platform id \"chat\" is used twice");
        let e = err(&MINIMAL.replace("kind = \"control\"", "kind = \"platform\""));
        assert!(e.contains("at least one platform of kind \"control\""), "{e}");
        let no_endpoints = "[[platform]]\nid = \"a\"\nname = \"A\"\nkind = \"control\"\n";
        assert_eq!(err(no_endpoints), "platform \"a\" has no endpoints");
        assert!(err(&MINIMAL.replace("id = \"chat\"", "id = \"Chat\"")).contains("\"Chat\""));
        assert!(err(&MINIMAL.replacen("group = \"web\"", "group = \" \"", 1)).contains("empty group"));
    }

    #[test]
    fn inputs_parse_and_display_back() {
        for s in [
            "https://web.whatsapp.com/",
            "http://149.154.175.50:443/",
            "tcpconnect://e1.whatsapp.net:5222",
            "tcpconnect://149.154.175.50:443",
            "tcpconnect://[2001:db8::1]:443",
        ] {
            assert_eq!(s.parse::<Input>().unwrap().to_string(), s);
        }
        let v6: Input = "tcpconnect://[2001:db8::1]:443".parse().unwrap();
        assert_eq!((v6.host(), v6.port()), ("2001:db8::1", 443));
        let url: Input = "http://example.com/x".parse().unwrap();
        assert_eq!((url.host(), url.port()), ("example.com", 80));
    }

    #[test]
    fn to_toml_round_trips() {
        let b = Battery::builtin();
        let text = b.to_toml();
        assert!(text.contains("[[platform.endpoint]]"), "{text}");
        assert_eq!(Battery::from_toml(&text).unwrap(), b);
    }

    #[test]
    fn lenient_inputs_default_to_https() {
        let bare = Input::parse_lenient("www.example.com").unwrap();
        assert_eq!(bare.to_string(), "https://www.example.com/");
        let path = Input::parse_lenient("example.com/a?b=1").unwrap();
        assert_eq!(path.to_string(), "https://example.com/a?b=1");
        let tcp = Input::parse_lenient("tcpconnect://e1.whatsapp.net:5222").unwrap();
        assert_eq!(tcp.port(), 5222);
        assert!(Input::parse_lenient("ftp://example.com/").is_err());
        assert!(Input::parse_lenient("").is_err());
    }

    #[test]
    fn bad_inputs_are_rejected_clearly() {
        assert_eq!(input_err("ftp://example.com/"), InputError::Scheme("ftp".into()));
        assert_eq!(input_err("tcpconnect://e1.whatsapp.net"), InputError::MissingPort);
        assert_eq!(input_err("tcpconnect://e1.whatsapp.net:0"), InputError::PortZero);
        assert_eq!(input_err("tcpconnect://h:5222/x"), InputError::TcpExtra("/x".into()));
        assert_eq!(input_err("https://u:p@example.com/"), InputError::Credentials);
        assert!(matches!(input_err("e1.whatsapp.net:5222"), InputError::Scheme(_) | InputError::Url(_)));
        assert!(matches!(input_err("tcpconnect://h:70000"), InputError::Url(_)));
        assert!(matches!(input_err("not a url"), InputError::Url(_)));
        assert_eq!(input_err("tcpconnect:e1.whatsapp.net"), InputError::MissingHost);
    }

    #[test]
    fn select_keeps_named_platforms_and_the_controls() {
        let b = Battery::builtin();
        let picked = b.select(&["telegram".into(), "whatsapp".into()]).unwrap();
        let ids: Vec<_> = picked.platforms.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["whatsapp", "telegram", "example", "wikipedia"]);
        let e = b.select(&["myspace".into()]).unwrap_err();
        assert_eq!(e.to_string(), "unknown platform \"myspace\"");
    }
}
