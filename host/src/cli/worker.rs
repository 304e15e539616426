//! `coevo worker`: answers jobs framed on standard input, on standard output, until the input
//! ends. The Ray driver runs one per worker slot; logs go to standard error.

use clap::Args;
use coevo::ComputeDevice;
use coevo::executor::Worker;

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// The device the jobs compute on; a job from a driver on another device is refused.
    #[arg(long, default_value = "cpu")]
    device: ComputeDevice,
}

pub fn run(args: WorkerArgs) -> anyhow::Result<()> {
    let mut worker = Worker::new(args.device).map_err(anyhow::Error::msg)?;
    let stdin = std::io::stdin().lock();
    let stdout = std::io::stdout().lock();
    worker.serve(stdin, stdout)?;
    Ok(())
}
