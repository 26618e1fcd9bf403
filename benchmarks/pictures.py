"""Pictures and animations of a run: a still picture with its values, and the animation of both passes as a page
and as a GIF, each pass laid out once, against the same frames each laid out on its own (what ``graphnet
animate`` did before), and the still against the orthogonal edge router every picture once had; in one process.

The issue's targets, for the LSTM unrolled over 8 steps (256 nodes): the animation under 20 s, the still under
3 s. The post's RNN is measured beside it: an animation's time should grow with its picture, not tenfold.

Run from the repository root: ``python -m benchmarks pictures [--steps 8] [--skip-baseline]`` (about 2 minutes
with the baseline, which lays out every frame).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from graphnet import load_task
from graphnet.animate import frames, write_gif, write_html
from graphnet.app.example import run_example
from graphnet.render import fold_steps, layout, to_digraph

ROOT = Path(__file__).resolve().parent.parent


def timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks pictures", description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--example", default="9+60")
    parser.add_argument("--skip-baseline", action="store_true",
                        help="do not lay out every frame on its own (the slow way), nor the orthogonal still")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch)
        for task_file, fold in [("binary_addition_lstm.toml", False), ("binary_addition_lstm.toml", True),
                                ("binary_addition.toml", False)]:
            task = load_task(ROOT / "tasks" / task_file)
            params = task.build_network().init_parameters(np.random.RandomState(0))  # timing does not need training
            example = run_example(task, params, args.example, args.steps)
            drawn = fold_steps(example.graph, task.network.cell) if fold else example.graph
            name = f"{task.network.cell}, {args.steps} steps{', folded' if fold else ''} ({len(drawn.nx)} nodes drawn)"
            still = to_digraph(drawn, values=example.run.values)
            seconds = timed(lambda: layout(still, "svg"))
            line = f"  still picture with values: {seconds:.2f} s"
            if not args.skip_baseline and still.graph_attr["splines"] != "ortho":
                ortho = still.copy()
                ortho.graph_attr["splines"] = "ortho"
                line += f"; with the orthogonal router it had: {timed(lambda: layout(ortho, 'svg')):.2f} s"
            print(name)
            print(line)
            shown = []
            made = timed(lambda: shown.extend(frames(task, params, args.example, "both", args.steps, fold=fold)))
            page = made + timed(lambda: write_html(shown, out / "run.html"))
            gif = made + timed(lambda: write_gif(shown, out / "run.gif"))
            baseline = ""
            if not args.skip_baseline:  # each frame laid out on its own, as before
                alone = made + sum(timed(lambda: layout(f.picture, "svg")) for f in shown)
                baseline = f"; each frame laid out on its own: {alone:.1f} s, {alone / page:.1f}x the page's time"
            print(f"  animation of both passes, {len(shown)} frames: page {page:.1f} s, GIF {gif:.1f} s{baseline}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
