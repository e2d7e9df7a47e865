//! The lab's errors: each says what was being done, so a failing CI log explains itself.

/// Why the lab could not run (not why a scenario's verdicts were wrong: see `run::Outcome`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LabError {
    /// Not root, or network namespaces do not work here.
    #[error(
        "the censorship lab needs root and network namespaces ({0}); run it as root on Linux with iproute2, \
         nftables, iptables, tc, tcpdump and ethtool installed (e.g. `sudo -E cargo test -p vigil-lab`)"
    )]
    NotPrivileged(String),
    /// A required program is not installed.
    #[error("the lab needs `{0}` (install package {1})")]
    MissingTool(&'static str, &'static str),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
    /// A command of the setup or a censor rule failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    Command { command: String, status: String, stderr: String },
    #[error("timed out: {0}")]
    Timeout(String),
    /// A binary the lab runs is missing.
    #[error("{path} not found: {hint}")]
    MissingBinary { path: String, hint: String },
    #[error("{0}")]
    Other(String),
}

impl LabError {
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        LabError::Io { what: what.into(), source }
    }
}
