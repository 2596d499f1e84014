"""Open LLM Leaderboard v2 per-sample details (``open-llm-leaderboard/<org>__<model>-details``).

Each details file holds one evaluation task's samples for one model, in lm-evaluation-harness's
schema: ``doc_id``, ``doc``, ``arguments`` (the requests: ``gen_args_<k>`` records with
``arg_0`` = context and ``arg_1`` = continuation, or a list of such pairs), ``resps`` /
``filtered_resps`` and one metric column (``acc_norm``, ``acc``, ``exact_match``,
``prompt_level_strict_acc``, ...: the first of ``score_fields`` in ``sources.yaml``).

Queries are keyed by ``<task>/<doc_id>`` and models joined on that key. The task is the
``task`` column if present, else parsed from the file name (``samples_<task>_<timestamp>``).

Cost: the details carry no token counts, so tokens are estimated as characters / 4
(``chars_per_token``): input tokens are the characters of every request (context +
continuation; a multiple-choice question scores each choice), output tokens are those of the
generated text for generation tasks and 1 per request for log-likelihood tasks. Cost in USD =
tokens x the model's price per 1M tokens (``sources.yaml``).

``--from PATH`` imports a folder with one entry per model: a file ``<model>.jsonl`` /
``<model>.parquet``, or a folder ``<model>/`` of ``samples_<task>_<timestamp>.jsonl`` files
(the hub's layout).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from routebench.dataset import (
    COST_PREFIX,
    PERF_PREFIX,
    SOURCE_FILE_COL,
    SOURCE_ROW_COL,
    DatasetError,
    MissingPolicy,
    RouteTable,
    table_from_frame,
)
from routebench.sources import (
    CONFIG_FILE,
    Source,
    as_unavailable,
    prepare_hub,
    register,
    source_config,
)

_TASK_FROM_NAME = re.compile(r"samples_(?P<task>.+?)_\d{4}-\d{2}-\d{2}T")


def requests(arguments: Any) -> list[tuple[str, str]]:
    """The (context, continuation) pairs of one row's ``arguments`` field."""
    if isinstance(arguments, dict):
        keys = sorted(arguments, key=lambda k: int(re.sub(r"\D", "", k) or 0))
        out = []
        for k in keys:
            req = arguments[k]
            if isinstance(req, dict):
                out.append((str(req.get("arg_0", "")), _text(req.get("arg_1"))))
            else:
                out.append((_text(req), ""))
        return out
    if isinstance(arguments, (list, tuple, np.ndarray)):
        out = []
        for req in arguments:
            if isinstance(req, (list, tuple, np.ndarray)) and len(req):
                out.append((str(req[0]), _text(req[1]) if len(req) > 1 else ""))
            else:
                out.append((_text(req), ""))
        return out
    return [(_text(arguments), "")]


def _text(value: Any) -> str:
    # Generation requests carry a dict of generation settings as arg_1: not text.
    return value if isinstance(value, str) else ""


def _response_chars(value: Any) -> int:
    """Characters of the generated text in ``filtered_resps`` (0 if it is not text)."""
    while isinstance(value, (list, tuple, np.ndarray)) and len(value):
        value = value[0]
    return len(value) if isinstance(value, str) else 0


def model_files(folder: Path, extensions: tuple[str, ...]) -> dict[str, list[Path]]:
    """Model name -> its details files, from a folder of per-model files or folders."""
    if not folder.is_dir():
        raise DatasetError(
            f"{folder}: expected a folder with one details file (or folder) per model"
        )
    out: dict[str, list[Path]] = {}
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.is_file() and entry.suffix.lower() in extensions:
            out[entry.stem] = [entry]
        elif entry.is_dir():
            files = sorted(
                p for p in entry.rglob("*") if p.is_file() and p.suffix.lower() in extensions
            )
            if files:
                out[entry.name] = files
    if not out:
        raise DatasetError(f"{folder}: no {'/'.join(extensions)} details files found")
    return out


def _read(path: Path) -> pd.DataFrame:
    try:
        if path.suffix.lower() == ".parquet":
            return pd.read_parquet(path)
        return pd.read_json(path, lines=True)
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: cannot read details file ({exc})") from exc


def details_frame(
    path: Path, score_fields: list[str], chars_per_token: float
) -> pd.DataFrame:
    """One details file -> columns key, prompt, task, score, tokens_in, tokens_out, file, row."""
    frame = _read(path)
    for col in ("doc_id", "arguments"):
        if col not in frame.columns:
            raise DatasetError(f"{path}, column {col!r}: required details column is missing")
    score_cols = [c for c in score_fields if c in frame.columns]
    if not score_cols:
        raise DatasetError(
            f"{path}: no score column; expected one of {score_fields} (configs: {CONFIG_FILE})"
        )
    if "task" in frame.columns:
        task = frame["task"].astype(str).to_numpy(dtype=object)
    else:
        match = _TASK_FROM_NAME.search(path.name)
        task = np.full(len(frame), match["task"] if match else path.stem, dtype=object)
    reqs = frame["arguments"].map(requests)
    prompt = reqs.map(lambda r: r[0][0] if r else "")
    in_chars = reqs.map(lambda r: sum(len(a) + len(b) for a, b in r)).to_numpy(np.float64)
    n_req = reqs.map(len).to_numpy(np.float64)
    resp_col = next((c for c in ("filtered_resps", "resps") if c in frame.columns), None)
    out_chars = (
        frame[resp_col].map(_response_chars).to_numpy(np.float64)
        if resp_col
        else np.zeros(len(frame))
    )
    generation = n_req == 1
    tokens_out = np.where(generation, np.ceil(out_chars / chars_per_token), n_req)
    # Per row, the first score field that is present (a file may mix tasks and metrics).
    scores = pd.DataFrame(
        {c: pd.to_numeric(frame[c].map(_as_number), errors="coerce") for c in score_cols}
    )
    score = scores.bfill(axis=1).iloc[:, 0]
    return pd.DataFrame(
        {
            "key": np.char.add(
                np.char.add(task.astype(str), "/"), frame["doc_id"].astype(str).to_numpy(str)
            ).astype(object),
            "prompt": prompt.to_numpy(dtype=object),
            "task": task,
            "score": score.to_numpy(dtype=np.float64),
            "tokens_in": np.ceil(in_chars / chars_per_token),
            "tokens_out": tokens_out,
            SOURCE_FILE_COL: str(path),
            SOURCE_ROW_COL: np.arange(len(frame)),
        }
    )


def _as_number(value: Any) -> Any:
    if isinstance(value, (list, tuple, np.ndarray)) and len(value) == 1:
        value = value[0]
    if isinstance(value, (bool, np.bool_)):
        return float(value)
    return value


def import_folder(
    folder: str | Path,
    *,
    missing: MissingPolicy = "error",
    report: dict[str, int] | None = None,
    models: list[str] | None = None,
    card: dict[str, Any] | None = None,
) -> RouteTable:
    """Join per-model details files under ``folder`` into one table (keyed by task/doc_id)."""
    cfg = source_config("leaderboard-v2")
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"{folder}: no such folder")
    found = model_files(folder, tuple(cfg["extensions"]))
    names = list(found) if models is None else models
    absent = [m for m in names if m not in found]
    if absent:
        raise DatasetError(f"{folder}: no details for model(s) {absent}; found {list(found)}")
    prices = cfg["models"]
    unpriced = [m for m in names if m not in prices]
    if unpriced:
        raise DatasetError(
            f"{folder / unpriced[0]}: no price for model {unpriced[0]!r} in {CONFIG_FILE} "
            "(leaderboard-v2.models)"
        )
    cpt = float(cfg["chars_per_token"])
    per_model = []
    for m in names:
        parts = [details_frame(p, list(cfg["score_fields"]), cpt) for p in found[m]]
        frame = pd.concat(parts, ignore_index=True)
        dup = frame["key"].duplicated()
        if dup.any():
            row = int(np.flatnonzero(dup.to_numpy())[0])
            raise DatasetError(
                f"{frame[SOURCE_FILE_COL].iloc[row]}, column 'doc_id', row "
                f"{frame[SOURCE_ROW_COL].iloc[row]}: duplicated sample {frame['key'].iloc[row]!r}"
            )
        cost = (
            frame["tokens_in"] * prices[m]["input"] + frame["tokens_out"] * prices[m]["output"]
        ) / 1e6
        per_model.append(
            frame.assign(**{PERF_PREFIX + m: frame["score"], COST_PREFIX + m: cost}).drop(
                columns=["score", "tokens_in", "tokens_out"]
            )
        )
    # Outer join on the sample key: descriptive columns from the first model holding the key.
    described = ["key", "prompt", "task", SOURCE_FILE_COL, SOURCE_ROW_COL]
    meta = (
        pd.concat([f[described] for f in per_model])
        .drop_duplicates("key")
        .set_index("key")
    )
    values = pd.concat(
        [
            f.set_index("key")[[PERF_PREFIX + m, COST_PREFIX + m]]
            for f, m in zip(per_model, names, strict=True)
        ],
        axis=1,
        join="outer",
    )
    joined = meta.join(values, how="left").reset_index().rename(columns={"key": "id"})
    info = {
        "source": "leaderboard-v2",
        "licence": cfg["licence"],
        "citation": cfg["citation"],
        "prices_per_1m_tokens": {m: prices[m] for m in names},
        "notes": (
            f"tokens estimated as characters / {cpt:g} (no token counts in the details files); "
            "queries keyed by task/doc_id"
        ),
        **(card or {}),
    }
    return table_from_frame(
        joined, name="leaderboard-v2", file=folder, models=names, missing=missing, card=info,
        report=report,
    )


def fetch(models: list[str], target: Path) -> Path:
    """Download the details samples of ``models`` from the hub into ``target``/<model>/."""
    from huggingface_hub import snapshot_download

    cfg = source_config("leaderboard-v2")
    prepare_hub()
    for m in models:
        repo = cfg["repo_template"].format(model=m)
        try:
            snapshot_download(
                repo_id=repo,
                repo_type=cfg["repo_type"],
                allow_patterns=["*samples_leaderboard_*.jsonl"],
                local_dir=target / m,
            )
        except Exception as exc:  # the hub client raises many network and HTTP error types
            raise as_unavailable(exc, repo) from exc
    return target


def _parse_models(models: str | list[str] | None, default: list[str]) -> list[str]:
    if models is None:
        return default
    names = [m.strip() for m in models.split(",")] if isinstance(models, str) else list(models)
    names = [m for m in names if m]
    if not names:
        raise DatasetError(f"--models {models!r}: give a comma-separated list of model names")
    return names


def _build(
    *,
    from_path: str | Path | None = None,
    missing: MissingPolicy = "error",
    report: dict[str, int] | None = None,
    models: str | list[str] | None = None,
    cache_dir: str | Path | None = None,
) -> RouteTable:
    cfg = source_config("leaderboard-v2")
    if from_path is not None:
        chosen = None if models is None else _parse_models(models, [])
        return import_folder(from_path, missing=missing, report=report, models=chosen)
    chosen = _parse_models(models, list(cfg["models"]))
    target = Path(cache_dir) if cache_dir else Path.home() / ".cache" / "routebench" / "leaderboard"
    fetch(chosen, target)
    return import_folder(
        target, missing=missing, report=report, models=chosen,
        card={"hf_repos": [cfg["repo_template"].format(model=m) for m in chosen]},
    )


register(
    Source(
        name="leaderboard-v2",
        description="Open LLM Leaderboard v2 per-sample details; tokens estimated from text",
        build=_build,
        options=("models", "cache_dir"),
    )
)
