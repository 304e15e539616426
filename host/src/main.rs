//! The `coevo` command.

mod allocator;
mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let tuning = allocator::tune_for_training();
    let args = cli::Cli::parse();
    cli::logging::init(args.global.verbose, args.global.quiet);
    tracing::debug!("allocator: {tuning:?}");
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
