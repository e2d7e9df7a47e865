//! `vigil-lab`: run censorship-lab scenarios (`run [NAME...]`), list them, print the docs table,
//! remove stale labs, and — inside a lab namespace — serve a host (`host`). Needs root.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vigil_lab::host::{self, HostRole};
use vigil_lab::{Scenario, lab_dir, suite, topology};

#[derive(Debug, Parser)]
#[command(
    name = "vigil-lab",
    about = "Vigil's censorship lab: the real probe against real censors in network namespaces"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run scenarios whose name contains one of NAMES (all when none). Needs root.
    Run { names: Vec<String> },
    /// List the scenarios.
    List,
    /// Print the scenario table of docs/lab.md.
    Table,
    /// Remove labs left behind by killed runs.
    Clean,
    /// Serve one namespace's hosts (started by the harness with `ip netns exec`).
    Host {
        #[arg(long)]
        spec: PathBuf,
        #[arg(long, value_enum)]
        role: HostRole,
    },
}

fn scenarios() -> Result<Vec<Scenario>, vigil_lab::LabError> {
    Scenario::load_all(&lab_dir().join("scenarios"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("vigil-lab: cannot start the async runtime: {e}");
            return ExitCode::from(3);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run { names } => {
                let me = std::env::current_exe().map_err(|e| vigil_lab::LabError::io("locate vigil-lab", e))?;
                suite::main(me, &names).await
            }
            Command::List => {
                for s in scenarios()? {
                    println!("{:28} {}", s.name, s.about);
                }
                Ok(true)
            }
            Command::Table => {
                print!("{}", suite::table(&scenarios()?));
                Ok(true)
            }
            Command::Clean => {
                let stale = topology::remove_stale();
                println!("removed {} stale lab(s)", stale.len());
                Ok(true)
            }
            Command::Host { spec, role } => host::serve(&spec, role).await.map(|()| true),
        }
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("vigil-lab: {e}");
            ExitCode::from(2)
        }
    }
}
