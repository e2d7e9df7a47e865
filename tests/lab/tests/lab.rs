//! The censorship lab as a test: every scenario of `tests/lab/scenarios/` against the real
//! `vigil-probe`, in network namespaces. Needs root; without it the test FAILS, saying why.
//!
//! `cargo test -p vigil-lab --test lab -- NAME` runs the scenarios whose name contains NAME.
//! `VIGIL_LAB_JOBS=N` runs N scenarios at once (default 3).

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // libtest's listing protocol, so `cargo test -- --list` works.
    if args.iter().any(|a| a == "--list") {
        if let Ok(all) = vigil_lab::Scenario::load_all(&vigil_lab::lab_dir().join("scenarios")) {
            for s in all {
                println!("{}: test", s.name);
            }
        }
        return ExitCode::SUCCESS;
    }
    // Names to select; libtest flags (--nocapture, --test-threads=N, --exact...) are ignored.
    let filters: Vec<String> = args.into_iter().filter(|a| !a.starts_with('-')).collect();
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lab: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let lab = PathBuf::from(env!("CARGO_BIN_EXE_vigil-lab"));
    match runtime.block_on(vigil_lab::suite::main(lab, &filters)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("\nlab: FAILED: {e}\n");
            ExitCode::FAILURE
        }
    }
}
