#!/usr/bin/env python3
"""Builds data/fashion-mnist-10k/: the first 10,000 training and 2,000 test samples of
Fashion-MNIST as gzip'd IDX files with the official names.

The small set lets tests and examples run without downloading anything. The output is
byte-stable (gzip header time 0, no file name stored), so re-running this script on the
official files reproduces the committed files exactly.

Usage: python3 tools/make_bundled_fashion_mnist.py [SOURCE_DIR] [OUT_DIR]
  SOURCE_DIR  folder with the four official .gz files (default: ../shared/data/fashion-mnist)
  OUT_DIR     where to write (default: data/fashion-mnist-10k)
"""

import gzip
import io
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRAIN, TEST = 10_000, 2_000
# (official file name, number of records to keep)
FILES = [
    ("train-images-idx3-ubyte.gz", TRAIN),
    ("train-labels-idx1-ubyte.gz", TRAIN),
    ("t10k-images-idx3-ubyte.gz", TEST),
    ("t10k-labels-idx1-ubyte.gz", TEST),
]


def head(idx: bytes, keep: int) -> bytes:
    """The first `keep` records of an IDX file of unsigned bytes, header count adjusted."""
    zero, type_code, ndims = struct.unpack_from(">HBB", idx, 0)
    if zero != 0 or type_code != 0x08:
        raise ValueError("not an IDX file of unsigned bytes")
    dims = list(struct.unpack_from(">" + "I" * ndims, idx, 4))
    if dims[0] < keep:
        raise ValueError(f"only {dims[0]} records, {keep} wanted")
    record = 1
    for d in dims[1:]:
        record *= d
    start = 4 + 4 * ndims
    dims[0] = keep
    header = struct.pack(">HBB", 0, type_code, ndims) + struct.pack(">" + "I" * ndims, *dims)
    return header + idx[start : start + keep * record]


def gzip_stable(data: bytes) -> bytes:
    """gzip with a fixed header (no time, no name), so equal input gives equal bytes."""
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, compresslevel=9, mtime=0) as gz:
        gz.write(data)
    return out.getvalue()


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared/data/fashion-mnist"
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "data/fashion-mnist-10k"
    out.mkdir(parents=True, exist_ok=True)
    for name, keep in FILES:
        idx = gzip.decompress((source / name).read_bytes())
        (out / name).write_bytes(gzip_stable(head(idx, keep)))
        print(f"{out / name}: {keep} records")


if __name__ == "__main__":
    main()
