#!/usr/bin/env python3
"""PyTorch reference for coevo: builds the nn.Sequential of a coevo model spec.

Three uses:
  train-bench  times PyTorch eager training steps of a spec on CIFAR-10 batches, the same
               steps `coevo bench train` times from the same initial weights, and prints one
               JSON line of results;
  colearn-bench  times co-learning steps of N coupled copies of a spec, eager PyTorch looping
               over the N models (the steps `coevo bench colearn` times), one JSON line;
  roundtrip    loads a coevo safetensors checkpoint into PyTorch (strict), runs a forward pass
               on given inputs, and writes the outputs and PyTorch's own state_dict back.

Only torch, numpy and safetensors are needed; `tools/libtorch.sh cuda` installs them.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from torch import nn


class Residual(nn.Module):
    """body(x) + shortcut(x), named as coevo names the two branches."""

    def __init__(self, body, shortcut):
        super().__init__()
        self.body = body
        self.shortcut = shortcut

    def forward(self, x):
        return self.body(x) + self.shortcut(x)


class Flatten(nn.Module):
    def forward(self, x):
        return x.flatten(1)


class GlobalAvgPool(nn.Module):
    def forward(self, x):
        return x.flatten(2).mean(2)


def build(layers, shape):
    """The modules of `layers` for an input of `shape` (without batch); returns (seq, shape)."""
    modules = []
    for layer in layers:
        kind = layer["type"]
        if kind in ("conv1d", "conv2d"):
            conv = nn.Conv1d if kind == "conv1d" else nn.Conv2d
            k, s, p = layer["kernel"], layer.get("stride", 1), layer.get("padding", 0)
            modules.append(conv(shape[0], layer["out"], k, s, p, bias=layer.get("bias", True)))
            shape = [layer["out"]] + [(d + 2 * p - k) // s + 1 for d in shape[1:]]
        elif kind in ("max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d"):
            k = layer["kernel"]
            s = layer.get("stride") or k
            pool = {"max_pool1d": nn.MaxPool1d, "max_pool2d": nn.MaxPool2d,
                    "avg_pool1d": nn.AvgPool1d, "avg_pool2d": nn.AvgPool2d}[kind]
            modules.append(pool(k, s))
            shape = [shape[0]] + [(d - k) // s + 1 for d in shape[1:]]
        elif kind == "global_avg_pool":
            modules.append(GlobalAvgPool())
            shape = [shape[0]]
        elif kind == "batch_norm":
            norm = {1: nn.BatchNorm1d, 2: nn.BatchNorm1d, 3: nn.BatchNorm2d}[len(shape)]
            modules.append(norm(shape[0], eps=layer.get("eps", 1e-5), momentum=layer.get("momentum", 0.1)))
        elif kind == "dropout":
            modules.append(nn.Dropout(layer["p"]))
        elif kind == "linear":
            modules.append(nn.Linear(shape[0], layer["out"], bias=layer.get("bias", True)))
            shape = [layer["out"]]
        elif kind == "flatten":
            modules.append(Flatten())
            shape = [int(np.prod(shape))]
        elif kind == "residual":
            body, body_shape = build(layer["body"], shape)
            shortcut, _ = build(layer.get("shortcut", []), shape)
            modules.append(Residual(body, shortcut))
            shape = body_shape
        else:
            activation = {"relu": nn.ReLU(), "tanh": nn.Tanh(), "sigmoid": nn.Sigmoid(), "gelu": nn.GELU(),
                          "leaky_relu": nn.LeakyReLU(layer.get("slope", 0.01))}
            modules.append(activation[kind])
    return nn.Sequential(*modules), shape


def cifar_batches(path, count):
    """The first `count` CIFAR-10 training records as float inputs in [0, 1] and labels."""
    raw = np.fromfile(os.path.join(path, "data_batch_1.bin"), dtype=np.uint8)
    records = raw.reshape(-1, 3073)[:count]
    x = records[:, 1:].astype(np.float32).reshape(-1, 3, 32, 32) / 255.0
    y = records[:, 0].astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


def gather(x_all, y_all, step, batch_size):
    """The batch of a step, gathered by index as a shuffled epoch gathers it (and as coevo's
    timed step does), rather than sliced as a free view."""
    start = (step % 4) * batch_size
    index = torch.arange(start, start + batch_size, device=x_all.device)
    return x_all.index_select(0, index), y_all.index_select(0, index)


def train_bench(args):
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads or torch.get_num_threads())
    spec = json.load(open(args.spec))
    model, _ = build(spec["layers"], spec["input"])
    if args.weights:
        from safetensors.torch import load_file
        model.load_state_dict(load_file(args.weights), strict=True)
    device = torch.device(args.device)
    model = model.to(device)
    x_all, y_all = cifar_batches(args.data, args.batch_size * 4)
    x_all, y_all = x_all.to(device), y_all.to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    model.train()
    times = []
    for step in range(args.warmup + args.steps):
        start = time.perf_counter()
        x, y = gather(x_all, y_all, step, args.batch_size)
        optimizer.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        loss.item()  # the same sync per step that coevo's loss read makes
        if step >= args.warmup:
            times.append(time.perf_counter() - start)
    times.sort()
    median = times[len(times) // 2]
    print(json.dumps({"framework": "pytorch", "torch": torch.__version__, "device": args.device,
                      "threads": torch.get_num_threads(), "batch_size": args.batch_size,
                      "steps": args.steps, "median_step_seconds": median,
                      "samples_per_second": args.batch_size / median}))


def colearn_loss(logits, labels, beta):
    """Per-member losses [M] of stacked logits [M, B, K]: cross-entropy plus
    sum_j beta_ij KL(p_j || p_i), with p_j detached (targets) and ln p_i floored at ln 1e-6."""
    m = logits.shape[0]
    log_p = torch.log_softmax(logits, dim=2)
    ce = -log_p.gather(2, labels.view(1, -1, 1).expand(m, -1, 1)).squeeze(2)  # [M, B]
    log_t = log_p.detach()
    t = log_t.exp()
    floored = log_p.clamp_min(-13.815510557964274)
    # kl[i, j, b] = sum_k p_j (ln p_j - ln p_i)
    kl = (t * log_t).sum(2).unsqueeze(0) - torch.einsum("jbk,ibk->ijb", t, floored)
    coupling = (beta.view(m, m, 1) * kl).sum(1)  # [M, B]
    return (ce + coupling).mean(1)


def colearn_bench(args):
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads or torch.get_num_threads())
    spec = json.load(open(args.spec))
    models = [build(spec["layers"], spec["input"])[0] for _ in range(args.members)]
    x_all, y_all = cifar_batches(args.data, args.batch_size * 4)
    params = [p for model in models for p in model.parameters()]
    optimizer = torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=5e-4)
    n = args.members
    beta = torch.full((n, n), args.beta_bar / n)
    beta.fill_diagonal_(0.0)
    for model in models:
        model.train()
    times = []
    for step in range(args.warmup + args.steps):
        start = time.perf_counter()
        x, y = gather(x_all, y_all, step, args.batch_size)
        optimizer.zero_grad(set_to_none=True)
        logits = torch.stack([model(x) for model in models])
        losses = colearn_loss(logits, y, beta)
        losses.sum().backward()
        optimizer.step()
        losses.tolist()  # the same sync per step that coevo's loss read makes
        if step >= args.warmup:
            times.append(time.perf_counter() - start)
    times.sort()
    median = times[len(times) // 2]
    print(json.dumps({"framework": "pytorch", "torch": torch.__version__, "members": n,
                      "threads": torch.get_num_threads(), "batch_size": args.batch_size,
                      "steps": args.steps, "median_step_seconds": median}))


def roundtrip(args):
    from safetensors.torch import load_file, save_file
    spec = json.load(open(args.spec))
    model, _ = build(spec["layers"], spec["input"])
    model.load_state_dict(load_file(args.weights), strict=True)
    model.eval()
    x = load_file(args.input)["x"]
    with torch.no_grad():
        out = model(x)
    save_file({"y": out.contiguous()}, args.output)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    # A change PyTorch makes, which coevo must read back: every weight scaled by 2.
    state = {k: (v * 2 if v.is_floating_point() else v) for k, v in state.items()}
    save_file(state, args.state)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    bench = sub.add_parser("train-bench")
    bench.add_argument("--spec", required=True)
    bench.add_argument("--data", required=True, help="cifar-10-batches-bin folder")
    bench.add_argument("--batch-size", type=int, default=128)
    bench.add_argument("--steps", type=int, default=30)
    bench.add_argument("--warmup", type=int, default=5)
    bench.add_argument("--threads", type=int, default=0)
    bench.add_argument("--device", default="cpu")
    bench.add_argument("--weights", help="initial weights (coevo safetensors); else PyTorch's init")
    bench.add_argument("--seed", type=int, default=0)
    co = sub.add_parser("colearn-bench")
    co.add_argument("--spec", required=True)
    co.add_argument("--data", required=True, help="cifar-10-batches-bin folder")
    co.add_argument("--members", type=int, default=10)
    co.add_argument("--beta-bar", type=float, default=-1.0)
    co.add_argument("--batch-size", type=int, default=128)
    co.add_argument("--steps", type=int, default=10)
    co.add_argument("--warmup", type=int, default=2)
    co.add_argument("--threads", type=int, default=0)
    co.add_argument("--seed", type=int, default=0)
    trip = sub.add_parser("roundtrip")
    trip.add_argument("--spec", required=True)
    trip.add_argument("--weights", required=True)
    trip.add_argument("--input", required=True)
    trip.add_argument("--output", required=True)
    trip.add_argument("--state", required=True)
    args = parser.parse_args()
    {"train-bench": train_bench, "colearn-bench": colearn_bench,
     "roundtrip": roundtrip}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
