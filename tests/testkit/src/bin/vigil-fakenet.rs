//! `vigil-fakenet`: the fake world (a censored ISP and the platforms' servers, on loopback) as a
//! process, for the demo and for trying `vigil-probe` by hand. Prints `ready` once the servers
//! listen and the files are written, then the verdicts a correct probe must reach; runs until
//! SIGTERM, SIGINT or the end of its standard input (unless that is /dev/null). `--expect FILE`
//! also writes those verdicts, per endpoint and per platform, as JSON Lines (for checks of probes
//! built elsewhere, e.g. cross-built ones under qemu: scripts/cross-check.sh).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use vigil_testkit::world::{FakeWorld, Profile, Timeouts, WorldOptions, parse_battery_toml};

const USAGE: &str = "usage: vigil-fakenet --battery-toml FILE --dir DIR [--profile clean|demo] [--timeout-ms N] \
                     [--concurrency N] [--expect FILE]";

#[derive(Debug)]
struct Args {
    battery: PathBuf,
    dir: PathBuf,
    expect: Option<PathBuf>,
    options: WorldOptions,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut battery, mut dir, mut expect) = (None, None, None);
    let mut options = WorldOptions::default();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--battery-toml" => battery = Some(PathBuf::from(value()?)),
            "--dir" => dir = Some(PathBuf::from(value()?)),
            "--expect" => expect = Some(PathBuf::from(value()?)),
            "--profile" => options.profile = value()?.parse::<Profile>().map_err(|e| e.to_string())?,
            "--timeout-ms" => {
                let ms = value()?.parse().ok().filter(|ms| *ms > 0).ok_or("--timeout-ms: a number of ms above 0")?;
                options.timeouts = Timeouts::all(ms);
            }
            "--concurrency" => {
                let n = value()?.parse().ok().filter(|n| *n > 0).ok_or("--concurrency: a number above 0")?;
                options.concurrency = Some(n);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Args {
        battery: battery.ok_or("--battery-toml is required")?,
        dir: dir.ok_or("--dir is required")?,
        expect,
        options,
    })
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("vigil-fakenet: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("vigil-fakenet: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(args))
}

async fn run(args: Args) -> ExitCode {
    let fail = |code: u8, message: String| {
        eprintln!("vigil-fakenet: {message}");
        ExitCode::from(code)
    };
    let text = match std::fs::read_to_string(&args.battery) {
        Ok(text) => text,
        Err(e) => return fail(2, format!("{}: {e}", args.battery.display())),
    };
    let platforms = match parse_battery_toml(&text) {
        Ok(platforms) => platforms,
        Err(e) => return fail(2, format!("{}: {e}", args.battery.display())),
    };
    if let Err(e) = std::fs::create_dir_all(&args.dir) {
        return fail(1, format!("{}: {e}", args.dir.display()));
    }
    let world = match FakeWorld::start(&platforms, &args.options, &args.dir).await {
        Ok(world) => world,
        Err(e) => return fail(1, e.to_string()),
    };
    if let Some(path) = &args.expect
        && let Err(e) = std::fs::write(path, expectations(&world))
    {
        return fail(1, format!("{}: {e}", path.display()));
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "ready");
    let _ = writeln!(
        out,
        "resolver {}  doh {}  control {}\nconfig {}\n\n{}",
        world.resolver(),
        world.doh_url(),
        world.control_url(),
        world.config_path().display(),
        world.summary()
    );
    let _ = out.flush();
    drop(out);
    wait_for_the_end().await;
    drop(world);
    ExitCode::SUCCESS
}

/// The verdicts a correct probe reaches, one JSON object a line: every endpoint (`"endpoint"`:
/// the input as measured, `blocking`, `accessible`, `mechanism`), then every platform
/// (`"platform"`: its id, `status`, `mechanism`), in the probe's own JSON spellings.
fn expectations(world: &FakeWorld) -> String {
    let mut out = String::new();
    for e in world.endpoints() {
        let line = serde_json::json!({
            "endpoint": e.input, "platform": e.platform,
            "blocking": e.verdict.blocking, "accessible": e.verdict.accessible, "mechanism": e.verdict.mechanism,
        });
        out += &format!("{line}\n");
    }
    for p in world.expected() {
        let line = serde_json::json!({"platform": p.id, "status": p.status, "mechanism": p.mechanism});
        out += &format!("{line}\n");
    }
    out
}

/// SIGINT, SIGTERM, or the end of standard input (ignored when stdin is /dev/null, as for a
/// background job of a script).
async fn wait_for_the_end() {
    let (tx, stdin_closed) = tokio::sync::oneshot::channel::<()>();
    if !stdin_is_dev_null() {
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
            let _ = tx.send(());
        });
    }
    let stdin_closed = async {
        if stdin_closed.await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
        _ = stdin_closed => {}
    }
}

fn stdin_is_dev_null() -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata("/dev/stdin"), std::fs::metadata("/dev/null")) {
        (Ok(stdin), Ok(null)) => stdin.dev() == null.dev() && stdin.ino() == null.ino(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Args, String> {
        parse_args(list.iter().map(|s| s.to_string()))
    }

    #[test]
    fn arguments_are_checked() {
        let a = args(&["--battery-toml", "b.toml", "--dir", "d", "--profile", "demo", "--timeout-ms", "1500"]).unwrap();
        assert_eq!(a.options.profile, Profile::Demo);
        assert_eq!(a.options.timeouts, Timeouts::all(1500));
        assert!(args(&["--dir", "d"]).unwrap_err().contains("--battery-toml"));
        assert!(args(&["--battery-toml", "b", "--dir", "d", "--profile", "x"]).unwrap_err().contains("\"x\""));
        assert!(args(&["--battery-toml", "b", "--dir", "d", "--timeout-ms", "0"]).unwrap_err().contains("timeout"));
        assert!(args(&["--bogus"]).unwrap_err().contains("--bogus"));
        assert_eq!(
            args(&["--battery-toml", "b", "--dir", "d", "--expect", "e.jsonl"]).unwrap().expect,
            Some("e.jsonl".into())
        );
        assert!(args(&["--battery-toml", "b", "--dir", "d", "--expect"]).unwrap_err().contains("--expect"));
    }
}
