"""The host's wire format: a JSON header on one line whose ``blob_lengths`` says how many raw
bytes follow it and how they divide (host/src/executor/frame.rs)."""

import json


def read(stream):
    """One frame ``(header, blobs)`` from a binary stream; ``None`` at its end."""
    line = stream.readline()
    if not line:
        return None
    header = json.loads(line)
    blobs = []
    for length in header.pop("blob_lengths", []):
        blob = stream.read(length)
        if len(blob) != length:
            raise EOFError(f"a frame ended after {len(blob)} of {length} bytes")
        blobs.append(blob)
    return header, blobs


def write(stream, header, blobs=()):
    """Writes ``header`` (a dict) and ``blobs``, then flushes."""
    header = dict(header, blob_lengths=[len(b) for b in blobs])
    stream.write(json.dumps(header).encode() + b"\n")
    for blob in blobs:
        stream.write(blob)
    stream.flush()
