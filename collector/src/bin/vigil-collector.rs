//! The `vigil-collector` binary: parse the command line, start the runtime, call the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = vigil_collector::cli::Cli::parse();
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt.block_on(vigil_collector::cli::run(cli)),
        Err(e) => {
            eprintln!("vigil-collector: cannot start the runtime: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
