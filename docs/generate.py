"""`make docs-results`: regenerate every results table and number that README.md shows.

The README's results live between markers ``<!-- BEGIN generated: NAME -->`` and
``<!-- END generated: NAME -->``; this script computes each block and writes it there, so no
number in the README is pasted by hand:

- ``slice``: the Table-1 configuration on the real RouterBench slice (``../shared/data/
  routerbench_routerdc``, 1,500 test queries, 10 seeds) and two PORT variants (eps 0.1, the
  exact gamma LP), with the numbers the text quotes;
- ``synthetic``: the synthetic default at paper scale (10,000 test queries, 10 seeds);
- ``bench``: the performance targets and the index table, from ``results/bench/*.csv`` (written
  by ``make bench``; this script only renders them).

``python docs/generate.py`` runs what is missing (data and runs go to ``results/docs/``, reused
when present) and rewrites the README; ``--check`` writes nothing and exits 1 when the README
differs from what the runs give (the slow suite does this for every block); ``--figures`` also
runs the paper's sweeps on the slice and copies their figures into ``docs/figures/``.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SLICE = ROOT.parent / "shared" / "data" / "routerbench_routerdc"
WORK = ROOT / "results" / "docs"
#: The paper's PORT result on full RouterBench (Table 1: performance relative to C^_opt, %).
PAPER_PORT_RELATIVE = 84.7

_BLOCK = "<!-- BEGIN generated: {name} -->\n{body}<!-- END generated: {name} -->"


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"<!-- BEGIN generated: {re.escape(name)} -->\n.*?"
                      rf"<!-- END generated: {re.escape(name)} -->", re.S)


def replace_block(text: str, name: str, body: str) -> str:
    """``text`` with the block ``name`` replaced by ``body`` (which ends with a newline)."""
    pattern = _pattern(name)
    if not pattern.search(text):
        raise SystemExit(f"README.md has no block {name!r} (markers <!-- BEGIN generated: "
                         f"{name} --> ... <!-- END generated: {name} -->)")
    return pattern.sub(lambda _: _BLOCK.format(name=name, body=body), text, count=1)


def block(text: str, name: str) -> str:
    """The body of block ``name`` in ``text``."""
    found = _pattern(name).search(text)
    if not found:
        raise SystemExit(f"README.md has no block {name!r}")
    lines = found.group(0).splitlines(keepends=True)
    return "".join(lines[1:-1])


# --------------------------------------------------------------------------- runs
def _run(config, data: Path, results: Path, progress: bool = True):
    from routebench.results import load_run
    from routebench.simulate import run_simulation

    return load_run(run_simulation(config, data_dir=data, results_root=results,
                                   progress=progress))


def slice_runs(work: Path = WORK, progress: bool = True) -> dict:
    """The slice's runs: ``table1`` (every router), ``eps`` (PORT with eps 0.1) and ``lp``
    (PORT with the exact gamma LP), 1,500 test queries, seeds 0-9."""
    from routebench.config import SimConfig
    from routebench.dataset import TABLE_FILE
    from routebench.sources import download

    data = work / "data"
    if not (data / "routerbench" / TABLE_FILE).exists():
        download("routerbench", data_dir=data, from_path=SLICE, missing="coalesce")
    base = dict(dataset="routerbench", test_size=1500, seeds=tuple(range(10)))
    port = ("port", "approx-opt")
    configs = {
        "table1": SimConfig(**base),
        "eps": SimConfig(**base, routers=port, router_params={"port": {"eps": 0.1}}),
        "lp": SimConfig(**base, routers=port, router_params={"port": {"gamma_solver": "lp"}}),
    }
    return {k: _run(c, data, work / "results", progress) for k, c in configs.items()}


def synthetic_run(work: Path = WORK, progress: bool = True):
    """The synthetic default at paper scale: 10,000 test queries, seeds 0-9."""
    from routebench.config import SimConfig
    from routebench.dataset import TABLE_FILE
    from routebench.sources import download

    data = work / "data"
    if not (data / "synthetic" / TABLE_FILE).exists():
        download("synthetic", data_dir=data)
    return _run(SimConfig(dataset="synthetic", seeds=tuple(range(10))), data,
                work / "results", progress)


# --------------------------------------------------------------------------- blocks
def _mean(run, router: str, metric: str) -> float:
    return float(run.values(router, metric).mean())


def _report(run) -> list[str]:
    """The run's report section (``routebench.report.run_markdown``) without its heading: the
    description, the table, the notes, the bounds and the paired PORT / baseline tables."""
    from routebench.report import build_run_report, run_markdown

    return run_markdown(build_run_report(run), level=3).splitlines()[2:]


def slice_block(runs: dict) -> str:
    """The README's slice section: command, table, bounds, paired ratios and the text's
    numbers."""
    from routebench.catalogue import ONLINE
    from routebench.routers import learning_size

    t1 = runs["table1"]
    rel = {r: 100 * _mean(t1, r, "relative_performance") for r in t1.online()}
    port = rel["port"]
    best = max((r for r in t1.online() if r != "port"), key=rel.__getitem__)
    beaten = [t1.label(r) for r in ONLINE if r in rel and r != "port" and rel[r] < port]
    beating = [t1.label(r) for r in ONLINE if r in rel and r != "port" and rel[r] >= port]
    n_test = int(t1.manifest["n_test"])
    eps = t1.manifest["config"]["router_params"]["port"]["eps"]
    lines = [
        "```bash",
        "routebench download routerbench --from ../shared/data/routerbench_routerdc --coalesce",
        "routebench simulate routerbench --test-size 1500 --seeds 0-9",
        "```",
        "",
        *_report(t1),
        "",
        f"**Where this lands against the paper.** PORT reaches {port:.1f} % of C^_opt here (the "
        f"paper: {PAPER_PORT_RELATIVE} % on full RouterBench). It beats "
        f"{', '.join(beaten) or 'no baseline'}"
        + (f", and trails {', '.join(beating)} (best: {t1.label(best)}, {rel[best]:.1f} %)."
           if beating else ".")
        + f" With eps = {eps} a {n_test:,}-query stream gives PORT a learning phase of only "
        f"{learning_size(n_test, eps)} queries, so its prices are noisy. With `--eps 0.1` "
        f"({learning_size(n_test, 0.1)} learning queries) PORT reaches "
        f"{100 * _mean(runs['eps'], 'port', 'relative_performance'):.1f} % of C^_opt on the "
        "same streams (`routebench simulate routerbench --test-size 1500 --seeds 0-9 --eps 0.1 "
        "--routers port,approx-opt`); the exact sample-dual LP (`--gamma-solver lp`) alone "
        f"gives {100 * _mean(runs['lp'], 'port', 'relative_performance'):.1f} %.",
    ]
    return "\n".join(lines) + "\n"


def synthetic_block(run) -> str:
    """The README's synthetic-default section: command and table."""
    best = max(run.online(), key=lambda r: _mean(run, r, "performance"))
    lines = [
        "```bash",
        "routebench download synthetic && routebench simulate synthetic --seeds 0-9",
        "```",
        "",
        f"{int(run.manifest['n_test']) + int(run.manifest['n_history']):,} queries x "
        f"{len(run.llms)} LLMs, {int(run.manifest['n_test']):,} test queries "
        f"({int(run.manifest['n_history']):,} historical), budget 1, weighted split, 10 seeds. "
        f"Best online router by performance: {run.label(best)}.",
        "",
        *_report(run),
    ]
    return "\n".join(lines) + "\n"


def bench_block(out_dir: Path = ROOT / "results" / "bench") -> str:
    """The README's performance tables, rendered from ``results/bench/*.csv``."""
    import pandas as pd

    sys.path.insert(0, str(ROOT))
    from bench.__main__ import targets_table

    targets = targets_table(out_dir)
    lines = ["| target | measured | goal | ratio | command |", "|---|---|---|---|---|"]
    for row in targets.itertuples(index=False):
        status = "met" if row.met else "missed"
        lines.append(f"| {row.target} | {row.measured:.4g} {row.unit} | {row.goal:g} | "
                     f"{row.ratio:.3g} ({status}) | `{row.command}` |")
    index_csv = out_dir / "index.csv"
    if index_csv.exists():
        idx = pd.read_csv(index_csv)
        row0 = idx.iloc[0]
        lines += ["", f"Embedders x indexes ({int(row0['n_history']):,} historical, "
                      f"{int(row0['n_test']):,} test queries; `python -m bench index`):", "",
                  "| embedder (dim) | index | embed (s) | build (s) | search (queries/s) | "
                  "recall@5 | memory (MiB) |", "|---|---|---:|---:|---:|---:|---:|"]
        for r in idx.itertuples(index=False):
            lines.append(f"| {r.embedder} ({r.dim}) | {r.index} | {r.embed_seconds:.1f} | "
                         f"{r.build_seconds:.1f} | {r.queries_per_second:,.0f} | "
                         f"{r.recall_at_5:.4f} | {r.memory_bytes / 2**20:.1f} |")
    return "\n".join(lines) + "\n"


BLOCKS: dict[str, Callable[[], str]] = {
    "slice": lambda: slice_block(slice_runs()),
    "synthetic": lambda: synthetic_block(synthetic_run()),
    "bench": bench_block,
}


#: README figure -> (folder under results/paper/routerbench/, file name pattern of plot_runs).
FIGURES: dict[str, tuple[str, str]] = {
    "bars": ("table1-figures", "bars_*.png"),
    "spend": ("table1-figures", "spend_*.png"),
    "vs_budget": ("figures", "vs_budget*.png"),
    "vs_test_size": ("volume-small/figures", "vs_test_size*.png"),
    "vs_models": ("figures", "vs_models*.png"),
    "vs_split": ("figures", "vs_split*.png"),
    "orders": ("figures", "orders_*.png"),
    "cost_quality": ("figures", "cost_quality*.png"),
}


def figures(work: Path = WORK) -> None:
    """The paper's sweeps on the slice (``make paper``), a small-volume sweep, and the Table-1
    run's per-run figures; each README figure copied to ``docs/figures/routerbench_<name>``."""
    env = {**os.environ, "ROUTEBENCH_DATA": str(work / "data")}
    paper = ROOT / "results" / "paper" / "routerbench"
    rb = [str(ROOT / ".venv" / "bin" / "routebench")]
    subprocess.run(["make", "paper", "DATASET=routerbench", "SET=test_size=1500", "JOBS=2"],
                   cwd=ROOT, check=True, env=env)
    subprocess.run([*rb, "sweep", "configs/volume.yaml", "--dataset", "routerbench", "--set",
                    "test_size=[500,1000,1500,2000,2500]", "--out",
                    str(paper / "volume-small"), "--jobs", "2"], cwd=ROOT, check=True, env=env)
    subprocess.run([*rb, "plot", str(paper / "table1"), "--out", str(paper / "table1-figures"),
                    "--per-run"], cwd=ROOT, check=True, env=env)
    target = ROOT / "docs" / "figures"
    for name, (folder, pattern) in FIGURES.items():
        found = sorted((paper / folder).glob(pattern))
        if not found:
            raise SystemExit(f"no figure {pattern} in {paper / folder}")
        shutil.copyfile(found[0], target / f"routerbench_{name}.png")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 on drift")
    parser.add_argument("--figures", action="store_true", help="also regenerate docs/figures")
    parser.add_argument("blocks", nargs="*", default=list(BLOCKS), help="blocks to make")
    args = parser.parse_args(argv)
    text = README.read_text(encoding="utf-8")
    new = text
    for name in args.blocks:
        print(f"== {name}", flush=True)
        new = replace_block(new, name, BLOCKS[name]())
    if args.check:
        if new != text:
            sys.stdout.writelines(difflib.unified_diff(
                text.splitlines(keepends=True), new.splitlines(keepends=True), "README.md",
                "generated"))
            return 1
        return 0
    if new != text:
        README.write_text(new, encoding="utf-8")
    if args.figures:
        figures()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

