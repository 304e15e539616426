"""The driver: ``python -m coevo_ray --address ADDR --worker BIN ...``.

Reads frames from standard input and answers each on standard output:

- ``{"op": "batch", "blobs": [sha...], "jobs": [{"spec", "blobs": [sha...]}]}`` followed by the
  bytes of the blobs it names (those the host has not sent before): each new blob is put once
  in Ray's object store; each job runs on a worker slot with its blobs; the answer is
  ``{"results": [{"ok", "answer" | "error", "blobs": n}]}`` in the jobs' order, followed by
  every result's blobs in that order.
- ``{"op": "pids"}``: the process ids of the worker slots' ``coevo worker`` processes.
- ``{"op": "stop"}`` or the end of the input: stops the slots and exits.

The first frame it writes is ``{"ready": true, "workers": n, "nodes": [...]}``, or
``{"error": ...}`` when it cannot start.
"""

import argparse
import os
import subprocess
import sys

from . import frame


def parse():
    p = argparse.ArgumentParser(prog="coevo_ray")
    p.add_argument("--address", required=True, help="HOST:PORT of a cluster, or 'local'")
    p.add_argument("--worker", required=True, help="the coevo binary every node runs")
    p.add_argument("--device", default="flex")
    p.add_argument("--workers", type=int, default=0, help="slots; 0: CPUs / num-cpus")
    p.add_argument("--num-cpus", type=float, default=1.0)
    p.add_argument("--num-gpus", type=float, default=0.0)
    p.add_argument("--max-retries", type=int, default=3)
    return p.parse_args()


def slot_class(ray):
    @ray.remote
    class Slot:
        """One worker slot: a ``coevo worker`` process, started again when it dies. A job is
        idempotent (its answer depends only on its spec and blobs), so a job whose process died
        under it is run again on a fresh one, up to ``retries`` times."""

        def __init__(self, binary, device, retries):
            self.command = [binary, "worker", "--device", device, "-q"]
            self.retries = retries
            self.process = None

        def _process(self):
            if self.process is None or self.process.poll() is not None:
                self.process = subprocess.Popen(
                    self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE
                )
            return self.process

        def pid(self):
            return self._process().pid

        def run(self, spec, *blobs):
            died = []
            for _ in range(self.retries + 1):
                process = self._process()
                try:
                    frame.write(process.stdin, spec, blobs)
                    got = frame.read(process.stdout)
                except (BrokenPipeError, EOFError, OSError, ValueError) as e:
                    got, why = None, str(e) or type(e).__name__
                else:
                    why = "it closed its output"
                if got is not None:
                    header, out = got
                    if died:
                        header = dict(header, retried=died)
                    return header, out
                process.kill()
                process.wait()
                died.append(f"exit {process.returncode}: {why}")
                self.process = None
            label = spec.get("label", "?")
            return {"ok": False, "error": f"job {label}: its worker died {len(died)} times ({'; '.join(died)})"}, []

    return Slot


def main():
    args = parse()
    out = sys.stdout.buffer
    try:
        import ray
        from ray.util import ActorPool

        if args.address == "local":
            ray.init(include_dashboard=False, logging_level="ERROR", log_to_driver=False)
        else:
            ray.init(address=args.address, logging_level="ERROR", log_to_driver=False)
        cpus = ray.cluster_resources().get("CPU", 1)
        workers = args.workers or max(1, int(cpus // max(args.num_cpus, 1e-9)))
        Slot = slot_class(ray).options(
            num_cpus=args.num_cpus, num_gpus=args.num_gpus, max_restarts=-1, max_task_retries=args.max_retries
        )
        slots = [Slot.remote(args.worker, args.device, args.max_retries) for _ in range(workers)]
        ray.get([s.pid.remote() for s in slots])
        nodes = [n["NodeManagerAddress"] for n in ray.nodes() if n.get("Alive")]
    except Exception as e:  # the host reports it; the traceback goes to standard error
        frame.write(out, {"error": f"{type(e).__name__}: {e}"})
        raise
    frame.write(out, {"ready": True, "workers": workers, "nodes": nodes, "pid": os.getpid()})
    stored = {}
    stdin = sys.stdin.buffer
    while True:
        got = frame.read(stdin)
        if got is None:
            break
        request, blobs = got
        op = request.get("op")
        if op == "stop":
            break
        if op == "pids":
            frame.write(out, {"pids": ray.get([s.pid.remote() for s in slots])})
            continue
        if op != "batch":
            frame.write(out, {"error": f"unknown op {op!r}"})
            continue
        for sha, blob in zip(request["blobs"], blobs):
            stored[sha] = ray.put(blob)
        jobs = request["jobs"]
        pool = ActorPool(slots)
        answers = list(
            pool.map(lambda slot, job: slot.run.remote(job["spec"], *[stored[s] for s in job["blobs"]]), jobs)
        )
        results, flat = [], []
        for header, out_blobs in answers:
            header = dict(header, blobs=len(out_blobs))
            results.append(header)
            flat.extend(out_blobs)
        frame.write(out, {"results": results}, flat)
    ray.shutdown()


if __name__ == "__main__":
    main()
