//! `isr`: the command line of an isr-rs app's page cache, over the app's purge endpoint.
//!
//! ```text
//! isr status                                  # entries, bytes, hit ratio, renders, ...
//! isr ls --state stale --route /docs          # entries as a table (or --json)
//! isr purge --tag product-blue-sneakers       # revalidate, print the app's answer
//! isr warm --sitemap http://127.0.0.1:3000/sitemap.xml
//! isr watch --interval 2                      # a live view, refreshed in place
//! ```
//!
//! The app's address comes from `--url` or `ISR_URL` (default `http://127.0.0.1:3000`), the
//! purge endpoint's secret from `--secret` or `REVALIDATION_SECRET`. See `isr --help` for the
//! exit codes.

mod app;
mod cli;
mod failure;
mod format;
mod ls;
mod output;
mod pages;
mod purge;
mod sitemap;
mod status;
mod warm;
mod watch;

use std::process::ExitCode;

use clap::Parser as _;

use crate::app::App;
use crate::cli::{Cli, Command};
use crate::failure::Failure;

fn main() -> ExitCode {
    // Bad arguments exit here with clap's message and code 2; `--help` and `--version` with 0.
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("isr: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("isr: {failure}");
            ExitCode::from(failure.exit_code())
        }
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let app = App::new(&cli.app)?;
    match &cli.command {
        Command::Status(args) => status::run(&app, args).await,
        Command::Ls(args) => ls::run(&app, args).await,
        Command::Purge(args) => purge::run(&app, args).await,
        Command::Warm(args) => warm::run(&app, args).await,
        Command::Watch(args) => watch::run(&app, args).await,
    }
}
