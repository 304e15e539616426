//! Command-line interface: argument definitions and dispatch.

mod baseline;
mod bench;
mod data;
mod experiment;
pub mod logging;
mod models;
mod output;
mod plugins;
mod progress;
mod schema_text;
mod train;
mod worker;

use clap::{Args, Parser, Subcommand};

/// coevo: evolutionary and cooperative training of neural networks.
#[derive(Debug, Parser)]
#[command(name = "coevo", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// Print the command's results as a JSON object on the last line of standard output.
    #[arg(long, global = true)]
    pub json: bool,
    /// More log output (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on standard error.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run an experiment script.
    Run(experiment::RunArgs),
    /// Continue a stopped run from its last checkpoint.
    Resume(experiment::ResumeArgs),
    /// Write a run's Markdown report with plots of its metrics.
    Report(experiment::ReportArgs),
    /// Train one model on a data set and evaluate it on the test split.
    Train(train::TrainArgs),
    /// Data sets: download official archives, describe local ones.
    #[command(subcommand)]
    Data(data::DataCommand),
    /// Model presets: list them, show a spec with its parameter count.
    #[command(subcommand)]
    Models(models::ModelsCommand),
    /// Algorithm plugins: list, show, run.
    #[command(subcommand)]
    Plugins(plugins::PluginsCommand),
    /// Reference methods on the same data and split: `coevo baseline elasticnet`.
    #[command(subcommand)]
    Baseline(baseline::BaselineCommand),
    /// Benchmarks that print numbers.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Answer jobs framed on standard input (what a Ray worker slot runs).
    Worker(worker::WorkerArgs),
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run(args) => experiment::run(args, &cli.global),
        Command::Resume(args) => experiment::resume(args, &cli.global),
        Command::Report(args) => experiment::report(args, &cli.global),
        Command::Train(args) => train::run(args, &cli.global),
        Command::Data(command) => data::run(command, &cli.global),
        Command::Models(command) => models::run(command, &cli.global),
        Command::Baseline(command) => baseline::run(command, &cli.global),
        Command::Bench(command) => bench::run(command, &cli.global),
        Command::Plugins(command) => plugins::run(command, &cli.global),
        Command::Worker(args) => worker::run(args),
    }
}
