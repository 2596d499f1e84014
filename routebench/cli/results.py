"""`routebench plot`, `report` and `sweep`: thin wrappers over ``routebench.plot``,
``routebench.report`` and ``routebench.sweep``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from routebench.cli.common import app, console, data_dir, handle_errors, results_dir

# Paths, file names, reasons and parameters are printed literally (markup=False or rich Text):
# a "[...]" in them is text, not rich markup.


def _complete_formats(incomplete: str) -> list[str]:
    """Shell completion of ``--format``'s comma list: the formats not given yet (md, csv, tex),
    after those given (``md,c`` -> ``md,csv``)."""
    from routebench.report import FORMATS

    *given, last = incomplete.split(",")
    prefix = "".join(f"{g}," for g in given)
    last = last.strip().lower()
    return [prefix + f for f in FORMATS if f not in given and f.startswith(last)]


def _print_notes(notes: list[str]) -> None:
    """Each note once, as a yellow "note:" line; the text is printed as is (no rich markup)."""
    for note in dict.fromkeys(notes):
        console.print(f"[yellow]note:[/] {escape(note)}", highlight=False, soft_wrap=True)


def _report(paths: list[Path], out: Path | None, formats: str, show: bool = True,
            metric: str | None = None) -> list[Path]:
    """Write the report of the runs behind ``paths`` (every format rendered before any file is
    written) and, when ``show``, print it once, fitted to the terminal's width."""
    from routebench.report import (
        build_report,
        default_out_dir,
        parse_formats,
        print_report,
        write_report,
    )
    from routebench.results import load_runs

    fmts = parse_formats(formats)
    notes: list[str] = []
    runs = load_runs(paths, notes=notes)
    _print_notes(notes)
    report = build_report(runs, metric=metric)
    written = write_report(report, out or default_out_dir(runs), fmts)
    if show:
        print_report(report, console)
    for p in written:
        console.print(f"wrote {p}", highlight=False, markup=False)
    return written


def _plot(paths: list[Path], out: Path | None, per_run: bool | None,
          formats: str = "pdf,png,svg") -> None:
    from routebench.plot import parse_formats, plot_runs
    from routebench.report import default_out_dir
    from routebench.results import load_runs

    fmts = parse_formats(formats)
    notes: list[str] = []
    runs = load_runs(paths, notes=notes)
    _print_notes(notes)
    target = out or default_out_dir(runs) / "figures"
    with console.status("drawing figures") as status:
        summary = plot_runs(runs, target, per_run=per_run, formats=fmts,
                            progress=lambda name: status.update(f"drawing {name}"))
    for name, _, files in summary.written:
        console.print(f"wrote {name}: {', '.join(p.name for p in files)}", highlight=False,
                      markup=False)
    for name, reason in summary.skipped:
        console.print(Text.assemble(("skipped", "yellow"), f" {name}: {reason}"),
                      highlight=False)
    console.print(f"index: {summary.index}", highlight=False, markup=False)


@app.command("report")
@handle_errors
def report(
    results: list[Path] = typer.Argument(..., help="Run folders, sweep folders or parents of "
                                         "runs (e.g. results/)."),
    format: str = typer.Option("md,csv,tex", "--format", help="Comma list of md, csv, tex.",
                               autocompletion=_complete_formats),
    out: Path | None = typer.Option(None, "--out", help="Output folder (default: the run "
                                    "folder for one run, the runs' common parent for several)."),
    metric: str | None = typer.Option(None, "--metric", help="Metric of the combined table "
                                      "over several runs, e.g. cr_lp (default), "
                                      "relative_performance, performance."),
) -> None:
    """Table-1-style tables (mean ± 95 % CI over seeds, best and tied routers marked), paired
    PORT/baseline ratios, and a combined table over the parameter several runs differ in."""
    _report(results, out, format, metric=metric)


@app.command("plot")
@handle_errors
def plot(
    results: list[Path] = typer.Argument(..., help="Run folders, sweep folders or parents of "
                                         "runs (e.g. results/)."),
    out: Path | None = typer.Option(None, "--out", help="Output folder (default: figures/ in "
                                    "the run folder, or in the runs' common parent)."),
    per_run: bool | None = typer.Option(None, "--per-run/--no-per-run", help="Draw per-run "
                                        "bar and spend figures (default: when 12 runs or "
                                        "fewer)."),
    format: str = typer.Option("pdf,png,svg", "--format", help="Comma list of pdf, png, svg."),
) -> None:
    """Write the paper's figures (PDF, PNG and SVG, sized for a one- or two-column page) and a
    figures.md index with one caption per figure."""
    _plot(results, out, per_run, format)


@app.command("sweep")
@handle_errors
def sweep(
    config: Path = typer.Argument(..., help="Sweep file, e.g. configs/budget.yaml."),
    dataset: str | None = typer.Option(None, "--dataset", help="Dataset (overrides the "
                                       "file's `dataset:`)."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Points run at once (local processes)."),
    force: bool = typer.Option(False, "--force", help="Recompute finished points."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List the points and stop."),
    out: Path | None = typer.Option(None, "--out", help="Where sweep.json, the report and the "
                                    "figures go (default results/sweeps/<file>-<dataset>)."),
    report_after: bool = typer.Option(True, "--report/--no-report", help="Write the report "
                                      "and figures of the sweep's runs when it finishes."),
    set_: list[str] = typer.Option([], "--set", help="Fix a base parameter, e.g. "
                                   "--set test_size=1500, or replace a grid's values, e.g. "
                                   "--set 'test_size=[500,1000]' (repeatable)."),
) -> None:
    """Expand a YAML grid into simulate runs and run those not finished yet."""
    from routebench.sweep import (
        default_out_dir,
        expand,
        is_finished,
        load_spec,
        parse_overrides,
        run_sweep,
    )

    spec = load_spec(config, dataset, parse_overrides(set_))
    _print_notes(spec.notes)
    shown = len(spec.notes)
    root = results_dir(write=not dry_run)
    if dry_run:
        points = expand(spec, data_dir())
        _print_notes(spec.notes[shown:])
        table = Table(title=Text(f"{spec.name} on {spec.dataset}: {len(points)} point(s)"))
        for col in ("#", "parameters", "run folder", "status"):
            table.add_column(col)
        for p in points:
            params = ", ".join(f"{k}={v}" for k, v in p.params.items()) or "base"
            if p.capped_from is not None:
                params += f" (test_size capped from {p.capped_from})"
            done = is_finished(p.run_dir(root), p.config) and not force
            table.add_row(str(p.index), Text(params), Text(str(p.run_dir(root))),
                          "finished" if done else "to run")
        console.print(table)
        return
    outcome = run_sweep(spec, data_dir=data_dir(write=True), results_root=root, out_dir=out,
                        jobs=jobs, force=force)
    _print_notes(spec.notes[shown:])
    console.print(f"{len(outcome.ran)} point(s) run, {len(outcome.skipped)} already finished; "
                  f"sweep.json in {outcome.out_dir}", highlight=False, markup=False)
    capped = [p for p in outcome.points if p.capped_from is not None]
    for p in capped:
        console.print(f"[yellow]capped[/] point {p.index}: test size {p.capped_from} -> "
                      f"{p.config.test_size}", highlight=False)
    if report_after:
        target = outcome.out_dir or default_out_dir(spec, root)
        _report([target], target, "md,csv,tex", show=False)
        _plot([target], target / "figures", None)
