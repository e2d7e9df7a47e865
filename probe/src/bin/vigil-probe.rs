//! `vigil-probe`: the thin binary; everything lives in the library (`vigil_probe::cli`).

use clap::Parser;

fn main() {
    let cli = vigil_probe::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("vigil-probe: cannot start the async runtime: {e}");
            std::process::exit(vigil_probe::cli::EXIT_RUNTIME);
        }
    };
    let code = runtime.block_on(vigil_probe::cli::main(cli));
    drop(runtime);
    vigil_probe::cli::print_stats_if_asked();
    std::process::exit(code);
}
