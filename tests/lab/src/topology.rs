//! The lab network: three namespaces joined by veths, `vl<ID>-probe` ↔ `vl<ID>-isp` ↔
//! `vl<ID>-inet`, with addresses only in 10.77.0.0/16 and no link to the host's own network, so
//! nothing can leave the machine. `ID` is `<pid>x<n>`: parallel runs never collide, and a later
//! run recognises the leftovers of a killed one (its pid is gone) and removes them.
//!
//! Teardown (processes inside killed, namespaces deleted) happens on drop, on SIGINT/SIGTERM
//! ([`install_signal_teardown`]), and at the next start ([`remove_stale`]).

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::LabError;
use crate::world::{INET_IP, ISP_IP, ISP_UPLINK_IP, LAB_NET, PROBE_IP, World};

/// The three hosts of the lab.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The volunteer's machine running `vigil-probe`.
    Probe,
    /// The ISP's router: forwards, resolves (10.77.1.1:53) and censors.
    Isp,
    /// The internet: every server address on one interface.
    Inet,
}

impl Role {
    fn suffix(self) -> &'static str {
        match self {
            Role::Probe => "probe",
            Role::Isp => "isp",
            Role::Inet => "inet",
        }
    }

    const ALL: [Role; 3] = [Role::Probe, Role::Isp, Role::Inet];
}

/// Interfaces of the ISP router: towards the probe, towards the internet.
pub const ISP_DOWNLINK: &str = "vp";
pub const ISP_UPLINK: &str = "vi";

/// Lab ids alive in this process (torn down by the signal handler).
static LIVE: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
static NEXT: AtomicU32 = AtomicU32::new(0);

/// A created lab network; dropping it tears it down.
#[derive(Debug)]
pub struct Topology {
    id: String,
}

fn ns_name(id: &str, role: Role) -> String {
    format!("vl{id}-{}", role.suffix())
}

impl Topology {
    /// Create the namespaces, links, addresses and routes for `world`.
    pub async fn create(world: &World) -> Result<Topology, LabError> {
        let id = format!("{}x{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
        LIVE.lock().unwrap_or_else(PoisonError::into_inner).insert(id.clone());
        let topo = Topology { id };
        topo.build(world).await?;
        Ok(topo)
    }

    async fn build(&self, world: &World) -> Result<(), LabError> {
        let (p, i, n) = (self.ns(Role::Probe), self.ns(Role::Isp), self.ns(Role::Inet));
        for ns in [&p, &i, &n] {
            run(&["ip", "netns", "add", ns]).await?;
        }
        // The probe's system resolver is the ISP's (`ip netns exec` mounts this resolv.conf).
        let etc = self.etc_dir();
        std::fs::create_dir_all(&etc).map_err(|e| LabError::io(format!("create {}", etc.display()), e))?;
        let resolv = format!("nameserver {ISP_IP}\noptions timeout:1 attempts:1\n");
        std::fs::write(etc.join("resolv.conf"), resolv).map_err(|e| LabError::io("write resolv.conf", e))?;

        run(&["ip", "-n", &i, "link", "add", ISP_DOWNLINK, "type", "veth", "peer", "name", "eth0", "netns", &p])
            .await?;
        run(&["ip", "-n", &i, "link", "add", ISP_UPLINK, "type", "veth", "peer", "name", "eth0", "netns", &n]).await?;
        let probe_addr = format!("{PROBE_IP}/24");
        let (isp_down, isp_up, inet_addr) =
            (format!("{ISP_IP}/24"), format!("{ISP_UPLINK_IP}/24"), format!("{INET_IP}/24"));
        let (isp_gw, inet_gw, up_gw) = (ISP_IP.to_string(), INET_IP.to_string(), ISP_UPLINK_IP.to_string());
        let mut steps: Vec<Vec<&str>> = vec![
            vec!["ip", "-n", &p, "addr", "add", &probe_addr, "dev", "eth0"],
            vec!["ip", "-n", &i, "addr", "add", &isp_down, "dev", ISP_DOWNLINK],
            vec!["ip", "-n", &i, "addr", "add", &isp_up, "dev", ISP_UPLINK],
            vec!["ip", "-n", &n, "addr", "add", &inet_addr, "dev", "eth0"],
        ];
        let servers: Vec<String> = world.server.iter().map(|s| format!("{}/32", s.ip)).collect();
        for addr in &servers {
            steps.push(vec!["ip", "-n", &n, "addr", "add", addr, "dev", "eth0"]);
        }
        for (ns, dev) in [(&p, "eth0"), (&i, ISP_DOWNLINK), (&i, ISP_UPLINK), (&n, "eth0")] {
            steps.push(vec!["ip", "-n", ns, "link", "set", dev, "up"]);
            // Offloads off: the censor and the shapers see real, MTU-sized packets.
            steps.push(vec!["ip", "netns", "exec", ns, "ethtool", "-K", dev, "tso", "off", "gso", "off", "gro", "off"]);
        }
        for ns in [&p, &i, &n] {
            steps.push(vec!["ip", "-n", ns, "link", "set", "lo", "up"]);
            steps.push(vec![
                "ip",
                "netns",
                "exec",
                ns,
                "sh",
                "-c",
                "echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6",
            ]);
        }
        steps.push(vec!["ip", "-n", &p, "route", "add", "default", "via", &isp_gw]);
        steps.push(vec!["ip", "-n", &n, "route", "add", "default", "via", &up_gw]);
        steps.push(vec!["ip", "-n", &i, "route", "add", LAB_NET, "via", &inet_gw]);
        steps.push(vec!["ip", "netns", "exec", &i, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward"]);
        for step in steps {
            run(&step).await?;
        }
        Ok(())
    }

    /// This lab's id (`<pid>x<n>`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The namespace of `role`.
    pub fn ns(&self, role: Role) -> String {
        ns_name(&self.id, role)
    }

    fn etc_dir(&self) -> PathBuf {
        Path::new("/etc/netns").join(self.ns(Role::Probe))
    }

    /// `program` to be run inside `role`'s namespace.
    pub fn command(&self, role: Role, program: impl AsRef<OsStr>) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new("ip");
        cmd.args(["netns", "exec", &self.ns(role)]).arg(program).kill_on_drop(true);
        cmd
    }

    /// Run a shell line (a censor rule) in `role`'s namespace; fails with its stderr.
    pub async fn sh(&self, role: Role, line: &str) -> Result<(), LabError> {
        let out = self
            .command(role, "sh")
            .args(["-c", line])
            .output()
            .await
            .map_err(|e| LabError::io(format!("run `{line}`"), e))?;
        check(line, &out)
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        destroy(&self.id);
        LIVE.lock().unwrap_or_else(PoisonError::into_inner).remove(&self.id);
    }
}

async fn run(args: &[&str]) -> Result<(), LabError> {
    let out = tokio::process::Command::new(args[0])
        .args(&args[1..])
        .output()
        .await
        .map_err(|e| LabError::io(format!("run {}", args[0]), e))?;
    check(&args.join(" "), &out)
}

fn check(command: &str, out: &std::process::Output) -> Result<(), LabError> {
    if out.status.success() {
        return Ok(());
    }
    Err(LabError::Command {
        command: command.to_string(),
        status: out.status.to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    })
}

/// Kill every process inside the lab `id`'s namespaces, then delete them (synchronous: runs
/// from `Drop` and from the signal handler).
fn destroy(id: &str) {
    for role in Role::ALL {
        let ns = ns_name(id, role);
        if let Ok(out) = std::process::Command::new("ip").args(["netns", "pids", &ns]).output() {
            let pids: Vec<String> = String::from_utf8_lossy(&out.stdout).split_whitespace().map(String::from).collect();
            if !pids.is_empty() {
                signal(&pids, "KILL");
            }
        }
        let _ = std::process::Command::new("ip").args(["netns", "del", &ns]).output();
    }
    let _ = std::fs::remove_dir_all(Path::new("/etc/netns").join(ns_name(id, Role::Probe)));
}

/// Send `sig` to `pids` (the shell's `kill`: no procps needed).
pub fn signal(pids: &[String], sig: &str) {
    let line = format!("kill -{sig} {}", pids.join(" "));
    let _ = std::process::Command::new("sh").args(["-c", &line]).output();
}

/// Tear down every lab of this process (for signal handlers).
pub fn teardown_all() {
    let ids: Vec<String> = LIVE.lock().unwrap_or_else(PoisonError::into_inner).iter().cloned().collect();
    for id in ids {
        destroy(&id);
    }
}

/// Remove labs left behind by runs that were killed (their pid no longer exists). Returns their ids.
pub fn remove_stale() -> Vec<String> {
    let Ok(out) = std::process::Command::new("ip").args(["netns", "list"]).output() else { return Vec::new() };
    let stale = stale_ids(&String::from_utf8_lossy(&out.stdout), |pid| Path::new(&format!("/proc/{pid}")).exists());
    for id in &stale {
        destroy(id);
    }
    stale
}

/// Lab ids in `ip netns list` output whose owning pid is not alive.
fn stale_ids(listing: &str, alive: impl Fn(u32) -> bool) -> Vec<String> {
    let mut ids = BTreeSet::new();
    for name in listing.lines().filter_map(|l| l.split_whitespace().next()) {
        let Some(rest) = name.strip_prefix("vl") else { continue };
        let Some((id, _role)) = rest.rsplit_once('-') else { continue };
        let Some(pid) = id.split_once('x').and_then(|(pid, _)| pid.parse::<u32>().ok()) else { continue };
        if !alive(pid) {
            ids.insert(id.to_string());
        }
    }
    ids.into_iter().collect()
}

/// Check that the lab can run here: root, the tools, and a namespace can be created.
pub fn preflight() -> Result<(), LabError> {
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("Uid:").map(|v| v.split_whitespace().next().map(String::from)))
        })
        .flatten();
    if uid.as_deref() != Some("0") {
        return Err(LabError::NotPrivileged(format!("running as uid {}", uid.unwrap_or_else(|| "?".into()))));
    }
    let tools = [
        ("ip", "iproute2"),
        ("tc", "iproute2"),
        ("iptables", "iptables"),
        ("nft", "nftables"),
        ("tcpdump", "tcpdump"),
        ("ethtool", "ethtool"),
    ];
    for (tool, package) in tools {
        let found = std::process::Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            return Err(LabError::MissingTool(tool, package));
        }
    }
    let probe_ns = format!("vl{}xcheck-probe", std::process::id());
    let out = std::process::Command::new("ip")
        .args(["netns", "add", &probe_ns])
        .output()
        .map_err(|e| LabError::NotPrivileged(format!("cannot run ip: {e}")))?;
    let _ = std::process::Command::new("ip").args(["netns", "del", &probe_ns]).output();
    if !out.status.success() {
        return Err(LabError::NotPrivileged(format!(
            "`ip netns add` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// On SIGINT or SIGTERM: tear down every lab of this process, then exit 130. Call once from
/// inside a tokio runtime.
pub fn install_signal_teardown() {
    tokio::spawn(async {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
            return;
        };
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        eprintln!("vigil-lab: interrupted, tearing the lab down");
        teardown_all();
        std::process::exit(130);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_labs_are_those_whose_pid_is_gone() {
        let listing = "vl100x0-probe (id: 3)\nvl100x0-isp\nvl200x1-inet\nvlan7\nother\nvl300xcheck-probe\n";
        let stale = stale_ids(listing, |pid| pid == 200);
        assert_eq!(stale, vec!["100x0".to_string(), "300xcheck".to_string()]);
    }
}
