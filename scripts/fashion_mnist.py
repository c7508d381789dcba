#!/usr/bin/python3
"""Fashion-MNIST as COPY text for omendb.

Usage: fashion_mnist.py train|test [--limit N]

Reads the gzipped IDX files of the Debian package dataset-fashion-mnist
(/usr/share/datasets/fashion-mnist, or $FASHION_MNIST_DIR) and writes one line
per image to stdout:

    id<TAB>label<TAB>[p0,p1,...,p783]

id is the image's index in the file (0-based), label its class (0-9), and the
pixels are the raw bytes 0..255, row-major. The output loads with

    COPY fashion_mnist (id, label, embedding) FROM STDIN

Standard library only. Importable: read_split() gives the raw arrays and
copy_lines() the text lines.
"""

import argparse
import gzip
import os
import struct
import sys

DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
IDX_UBYTE = 0x08

# "0".."255": formatting a row is then one join over table lookups
PIXEL_TEXT = [str(i) for i in range(256)]


def data_dir():
    return os.environ.get("FASHION_MNIST_DIR") or DEFAULT_DIR


def _open(path):
    """The file, gzipped or not (an unpacked copy without .gz also works)."""
    if os.path.exists(path):
        return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")
    if path.endswith(".gz") and os.path.exists(path[:-3]):
        return open(path[:-3], "rb")
    raise FileNotFoundError(
        f"{path} not found (install dataset-fashion-mnist or set FASHION_MNIST_DIR)")


def read_idx(path):
    """Return (dims, data) of an unsigned-byte IDX file; data is bytes."""
    with _open(path) as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != IDX_UBYTE:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = raw[3]
    header = 4 + 4 * ndim
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    size = 1
    for d in dims:
        size *= d
    if len(raw) - header != size:
        raise ValueError(f"{path}: {len(raw) - header} data bytes, header says {size}")
    return dims, raw[header:]


def read_split(split, limit=None):
    """Return (images, labels, count, dim) for 'train' or 'test'.

    images holds count*dim pixel bytes, labels count label bytes; with limit,
    only the first limit images are kept.
    """
    if split not in FILES:
        raise ValueError(f"split must be one of {sorted(FILES)}, not {split!r}")
    image_file, label_file = (os.path.join(data_dir(), name) for name in FILES[split])
    idims, images = read_idx(image_file)
    ldims, labels = read_idx(label_file)
    if len(idims) != 3 or len(ldims) != 1 or idims[0] != ldims[0]:
        raise ValueError(f"{split}: image dims {idims} do not match label dims {ldims}")
    count, dim = idims[0], idims[1] * idims[2]
    if limit is not None:
        count = min(count, limit)
    return images[:count * dim], labels[:count], count, dim


def copy_lines(images, labels, count, dim, start_id=0):
    """Yield the COPY text line (with newline) of each image."""
    lookup = PIXEL_TEXT.__getitem__
    for i in range(count):
        pixels = ",".join(map(lookup, images[i * dim:(i + 1) * dim]))
        yield f"{start_id + i}\t{labels[i]}\t[{pixels}]\n"


def write_copy(split, limit=None, out=None, batch=1000):
    """Write the split's COPY text to out (default: stdout); return the row count."""
    out = out or sys.stdout
    images, labels, count, dim = read_split(split, limit)
    chunk = []
    for line in copy_lines(images, labels, count, dim):
        chunk.append(line)
        if len(chunk) == batch:
            out.write("".join(chunk))
            chunk.clear()
    out.write("".join(chunk))
    out.flush()
    return count


def main(argv=None):
    p = argparse.ArgumentParser(
        description="Write fashion-mnist images as COPY text: id<TAB>label<TAB>[p0,...,p783]")
    p.add_argument("split", choices=sorted(FILES), help="train (60,000 images) or test (10,000)")
    p.add_argument("--limit", type=int, default=None, metavar="N",
                   help="only the first N images")
    args = p.parse_args(argv)
    if args.limit is not None and args.limit < 0:
        p.error("--limit must be >= 0")
    try:
        write_copy(args.split, args.limit)
    except BrokenPipeError:
        # reader went away (e.g. `| head`): no traceback, and no second error at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (OSError, ValueError) as e:
        print(f"fashion_mnist.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
