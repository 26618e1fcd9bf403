"""The one entry point of every benchmark: ``python -m benchmarks NAME [options]`` (``--help`` on each)."""

import sys

from . import cluster, members, pictures, reliability, speed, whole_process

BENCHMARKS = {"speed": speed.main, "whole-process": whole_process.main, "members": members.main,
              "reliability": reliability.main, "pictures": pictures.main, "cluster": cluster.main}

if __name__ == "__main__":
    name, argv = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("speed", [])
    if name in ("-h", "--help") or name not in BENCHMARKS:
        print(f"usage: python -m benchmarks [{'|'.join(BENCHMARKS)}] [options]   (default: speed)\n\n"
              + (sys.modules["benchmarks"].__doc__ or ""))
        raise SystemExit(0 if name in ("-h", "--help") else 2)
    raise SystemExit(BENCHMARKS[name](argv))
