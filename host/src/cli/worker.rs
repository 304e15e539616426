//! `coevo worker`: answers jobs framed on standard input, on standard output, until the input
//! ends. The Ray driver runs one per worker slot; logs go to standard error.

use clap::Args;
use coevo::ComputeDevice;
use coevo::executor::Worker;

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// The driver's device; a job from a driver on another device is refused. `cuda:N` becomes
    /// this process's first GPU when `CUDA_VISIBLE_DEVICES` hands it its GPUs (as Ray does).
    #[arg(long, default_value = "cpu")]
    device: ComputeDevice,
}

pub fn run(args: WorkerArgs) -> anyhow::Result<()> {
    let visible = std::env::var("CUDA_VISIBLE_DEVICES").ok();
    let device = args.device.for_worker(visible.as_deref());
    let mut worker = Worker::new(device).map_err(anyhow::Error::msg)?;
    let stdin = std::io::stdin().lock();
    let stdout = std::io::stdout().lock();
    worker.serve(stdin, stdout)?;
    Ok(())
}
