"""`routebench download` and `routebench info`: thin wrappers over ``routebench.sources``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from routebench.cli.common import (
    app,
    complete_dataset,
    console,
    data_dir,
    err_console,
    handle_errors,
)
from routebench.dataset import DatasetError, MissingPolicy
from routebench.sources import dataset_card, download, get_source, known_sources


def _complete_source(incomplete: str) -> list[str]:
    """Shell completion of ``download``'s argument: the registered sources."""
    return [name for name in known_sources() if name.startswith(incomplete)]


def _models_option(name: str, models: str | None) -> int | str | None:
    """``--models`` is a count for ``synthetic`` and a comma-separated list elsewhere."""
    if models is None or name != "synthetic":
        return models
    try:
        return int(models)
    except ValueError:
        raise DatasetError(f"--models for synthetic is a count of LLMs, got {models!r}") from None


@app.command("download")
@handle_errors
def download_cmd(
    # The registered sources, listed by --help (the metavar) and by shell completion. Not a
    # click Choice: get_source refuses an unknown name with the known ones and exit code 1,
    # like every other refusal, instead of click's usage error (exit code 2).
    name: str = typer.Argument(
        ..., metavar="|".join(known_sources()), autocompletion=_complete_source,
        help=f"The dataset source: {', '.join(known_sources())}.", show_default=False,
    ),
    from_path: Path | None = typer.Option(
        None, "--from", help="Import local files (a file or a folder) instead of downloading."
    ),
    force: bool = typer.Option(False, "--force", help="Rebuild even if already stored."),
    out: str | None = typer.Option(
        None, "--out", help="Folder name under the data dir (default: the dataset name)."
    ),
    n: int | None = typer.Option(None, "--n", help="synthetic: number of queries."),
    models: str | None = typer.Option(
        None, "--models", help="synthetic: number of LLMs; leaderboard-v2: comma-separated list."
    ),
    seed: int | None = typer.Option(None, "--seed", help="synthetic: generator seed."),
    five_shot: bool = typer.Option(
        False, "--five-shot", help="routerbench: the 5-shot file instead of the 0-shot one."
    ),
    splits: str | None = typer.Option(
        None, "--splits", help="sprout: comma-separated splits (default: all)."
    ),
    drop_missing: bool = typer.Option(
        False, "--drop-missing", help="Drop rows with missing scores or costs."
    ),
    coalesce: bool = typer.Option(
        False, "--coalesce", help="Merge rows that share an id and complement each other."
    ),
    allow_pickle: bool = typer.Option(
        False, "--allow-pickle", help="routerbench --from: unpickle a pickle that is not a known "
        "RouterBench release (a pickle can run code: only for files you trust)."
    ),
) -> None:
    """Download (or generate, or import with --from) a dataset into data/<out>/."""
    if drop_missing and coalesce:
        raise DatasetError("pass either --drop-missing or --coalesce, not both")
    missing: MissingPolicy = "drop" if drop_missing else "coalesce" if coalesce else "error"
    get_source(name)
    options = {
        "n": n,
        "models": _models_option(name, models),
        "seed": seed,
        "five_shot": True if five_shot else None,
        "splits": splits,
        "allow_pickle": True if allow_pickle else None,
    }
    if allow_pickle:
        err_console.print(Text("warning: --allow-pickle: unpickling a file runs any code it "
                               "carries; use it only for files from sources you trust",
                               style="yellow"))
    with console.status(f"building {name} ..."):
        table, card, report = download(
            name, data_dir=data_dir(write=True), force=force, from_path=from_path, missing=missing,
            out=out, **options,
        )
    # Paths, names and stored options are printed literally (Text, markup=False): a "[...]" in
    # them is text, not rich markup.
    if report["reused"]:
        console.print(
            Text(f"{report['path']} already holds {report['dataset']!r}: nothing to do "
                 "(pass --force to rebuild)", style="yellow"),
            soft_wrap=True,
        )
    console.print(
        Text.assemble(
            (str(report["dataset"]), "bold"),
            f": N = {report['n']:,} queries, M = {report['m']} LLMs; "
            f"rows dropped: {report['dropped']}, rows merged: {report['merged']}",
        ),
        highlight=False,
    )
    console.print(
        f"{'stored in' if report['reused'] else 'wrote'} {report['path']} "
        f"(content hash {card.get('content_hash', '?')})",
        soft_wrap=True,
        highlight=False,
        markup=False,
    )


@app.command("info")
@handle_errors
def info_cmd(
    name: str = typer.Argument(
        ..., autocompletion=complete_dataset,
        help="A downloaded dataset (its folder under the data dir).",
    ),
) -> None:
    """Print a downloaded dataset's card: size, tasks, per-LLM mean performance and cost."""
    card = dataset_card(name, data_dir=data_dir())
    # Card text (source, licence, task and model names) goes in as Text: printed literally.
    head = Table(title=Text(f"dataset {name}"), show_header=False)
    head.add_row("source", Text(str(card.get("source", "unknown"))))
    head.add_row("queries (N)", f"{card['n_queries']:,}")
    head.add_row("LLMs (M)", str(card["n_models"]))
    head.add_row("licence", Text(str(card.get("licence", "unknown"))))
    head.add_row("content hash", Text(str(card.get("content_hash", ""))))
    console.print(head)

    tasks = Table(title="tasks")
    tasks.add_column("task")
    tasks.add_column("queries", justify="right")
    for task, count in sorted(card.get("tasks", {}).items(), key=lambda kv: -kv[1]):
        tasks.add_row(Text(str(task)), f"{count:,}")
    console.print(tasks)

    llms = Table(title="LLMs")
    llms.add_column("LLM")
    llms.add_column("mean performance", justify="right")
    llms.add_column("mean cost (USD)", justify="right")
    prices = card.get("prices_per_1m_tokens", {})
    if prices:
        llms.add_column("USD / 1M tokens (in / out)", justify="right")
    for model in card["models"]:
        row: list[str | Text] = [
            Text(str(model)),
            f"{card['mean_perf'][model]:.3f}",
            f"{card['mean_cost_usd'][model]:.3g}",
        ]
        if prices:
            p = prices.get(model, {})
            row.append(f"{p.get('input', float('nan')):g} / {p.get('output', float('nan')):g}")
        llms.add_row(*row)
    console.print(llms)
