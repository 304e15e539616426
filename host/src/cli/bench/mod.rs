//! `coevo bench`: benchmarks that print numbers.

mod codeepnet;
mod colearn;
mod compact;
mod mega;
mod plugin;
mod ray;
mod script;
mod train;

use clap::Subcommand;

use super::Global;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Time training steps of a preset at several batch sizes, beside PyTorch eager.
    Train(train::TrainBenchArgs),
    /// Time scoring one MeGA generation: stacked on resident data against one by one.
    Mega(mega::MegaBenchArgs),
    /// Time a round trip through the plugin host table.
    HostCall(plugin::HostCallArgs),
    /// Time a plugin hot swap, from the library file changing to the new code running.
    Swap(plugin::SwapArgs),
    /// Time a co-learning step of N coupled networks: stacked, a loop over models, PyTorch.
    Colearn(colearn::ColearnBenchArgs),
    /// Time one Co-DeepNet generation through the plugin against its networks trained one by
    /// one, and an ElasticNet fit.
    Codeepnet(codeepnet::CoDeepNetBenchArgs),
    /// Time inference of a network with dropped clusters, masked against compacted, beside
    /// the FLOP reduction.
    Compact(compact::CompactBenchArgs),
    /// Time a script hook call, and a script reload from save to the new definition running.
    Script(script::ScriptArgs),
    /// Time the Ray executor: a trivial job's round trip, shipping a 1M-parameter model, and
    /// scoring a population with 1, 2, … workers against the local executor.
    Ray(ray::RayBenchArgs),
}

pub fn run(command: BenchCommand, global: &Global) -> anyhow::Result<()> {
    match command {
        BenchCommand::Train(args) => train::run(args, global),
        BenchCommand::Mega(args) => mega::run(args, global),
        BenchCommand::HostCall(args) => plugin::host_call(args, global),
        BenchCommand::Swap(args) => plugin::swap(args, global),
        BenchCommand::Script(args) => script::run(args, global),
        BenchCommand::Colearn(args) => colearn::run(args, global),
        BenchCommand::Codeepnet(args) => codeepnet::run(args, global),
        BenchCommand::Compact(args) => compact::run(args, global),
        BenchCommand::Ray(args) => ray::run(args, global),
    }
}
