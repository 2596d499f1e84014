"""SPROUT (Somerstep et al. 2025, CARROT): Hugging Face ``CARROT-LLM-Routing/SPROUT``.

Schema: one row per query with a ``prompt`` column and one column per LLM, each holding a
record with (at least) ``score``, ``num_input_tokens`` and ``num_output_tokens``. A task column
(``dataset``, ``task``, ``source`` or ``eval_name``) and an id column (``id``, ``sample_id``,
``prompt_id``) are used when present. Cost in USD = input tokens x input price + output tokens x
output price, with prices per 1M tokens from ``sources.yaml`` (recorded in the card).
"""

from __future__ import annotations

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
    list_input_files,
    prepare_hub,
    register,
    source_config,
)

TASK_COLUMNS = ("dataset", "task", "source", "eval_name")
ID_COLUMNS = ("id", "sample_id", "prompt_id", "uid")
RECORD_FIELDS = ("score", "num_input_tokens", "num_output_tokens")


def read_records(path: Path) -> pd.DataFrame:
    """One SPROUT-schema file (Parquet, JSON Lines or JSON) as a DataFrame."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        return pd.read_json(path, lines=suffix == ".jsonl")
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: cannot read {suffix} file ({exc})") from exc


def prompt_text(value: Any) -> str:
    """A prompt as text: a string, or a list of strings / chat messages (``content`` joined)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return str(value.get("content", ""))
    if isinstance(value, (list, tuple, np.ndarray)):
        return "\n\n".join(prompt_text(v) for v in value)
    return "" if value is None else str(value)


def _is_record(value: Any) -> bool:
    return isinstance(value, dict) and "score" in value


def model_columns(frame: pd.DataFrame) -> list[str]:
    """Columns holding per-LLM records (dicts with a ``score``), in file order."""
    found = []
    for col in frame.columns:
        values = frame[col].dropna()
        if len(values) and _is_record(values.iloc[0]):
            found.append(col)
    return found


def records_to_canonical(
    frame: pd.DataFrame, file: str, prices: dict[str, dict[str, float]], split: str
) -> tuple[pd.DataFrame, list[str]]:
    """A SPROUT-schema frame -> the canonical frame (costs in USD) and its model names."""
    if "prompt" not in frame.columns:
        raise DatasetError(f"{file}, column 'prompt': required column is missing")
    models = model_columns(frame)
    if not models:
        raise DatasetError(
            f"{file}: zero models (no column holds records with {list(RECORD_FIELDS)})"
        )
    unpriced = [m for m in models if m not in prices]
    if unpriced:
        raise DatasetError(
            f"{file}, column {unpriced[0]!r}: no price for model {unpriced[0]!r} in "
            f"{CONFIG_FILE} (sprout.prices_per_1m_tokens)"
        )
    n = len(frame)
    id_col = next((c for c in ID_COLUMNS if c in frame.columns), None)
    ids = (
        frame[id_col].astype(str).to_numpy(dtype=object)
        if id_col
        else np.char.add(f"{split}.", np.arange(n).astype(str)).astype(object)
    )
    task_col = next((c for c in TASK_COLUMNS if c in frame.columns), None)
    data: dict[str, Any] = {
        "id": ids,
        "prompt": frame["prompt"].map(prompt_text).to_numpy(dtype=object),
        "task": frame[task_col].astype(str).to_numpy(dtype=object) if task_col else "sprout",
    }
    costs = {}
    for m in models:
        rec = pd.DataFrame.from_records(
            [v if isinstance(v, dict) else {} for v in frame[m]], columns=list(RECORD_FIELDS)
        )
        fields = {}
        for field in RECORD_FIELDS:
            values = pd.to_numeric(rec[field], errors="coerce")
            bad = values.isna() & rec[field].notna()
            if bad.any():
                row = int(np.flatnonzero(bad.to_numpy())[0])
                raise DatasetError(
                    f"{file}, column {m!r}.{field}, row {row}: value {rec[field].iloc[row]!r} "
                    "is not a number"
                )
            fields[field] = values.to_numpy(dtype=np.float64)
        tokens = np.stack([fields["num_input_tokens"], fields["num_output_tokens"]], axis=1)
        negative = np.argwhere(tokens < 0)
        if negative.size:
            row, which = negative[0]
            raise DatasetError(
                f"{file}, column {m!r}.{RECORD_FIELDS[1 + which]}, row {row}: token count "
                f"{tokens[row, which]:g} is negative"
            )
        data[PERF_PREFIX + m] = fields["score"]
        costs[COST_PREFIX + m] = (
            tokens[:, 0] * prices[m]["input"] + tokens[:, 1] * prices[m]["output"]
        ) / 1e6
    data.update(costs)
    data[SOURCE_FILE_COL] = np.full(n, file, dtype=object)
    data[SOURCE_ROW_COL] = np.arange(n)
    return pd.DataFrame(data), models


def _merge(
    parts: list[tuple[pd.DataFrame, list[str], str]],
    *,
    missing: MissingPolicy,
    report: dict[str, int] | None,
    where: str | Path,
    card: dict[str, Any],
) -> RouteTable:
    models = parts[0][1]
    for _, found, file in parts[1:]:
        if sorted(found) != sorted(models):
            raise DatasetError(
                f"{file}: models {sorted(found)} differ from {parts[0][2]}'s {sorted(models)}"
            )
    frame = pd.concat([p[0] for p in parts], ignore_index=True)
    return table_from_frame(
        frame, name="sprout", file=where, models=models, missing=missing, card=card,
        report=report,
    )


def _card(cfg: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "source": "sprout",
        "licence": cfg["licence"],
        "citation": cfg["citation"],
        "prices_per_1m_tokens": cfg["prices_per_1m_tokens"],
        **extra,
    }


def import_local(
    path: str | Path,
    *,
    missing: MissingPolicy = "error",
    report: dict[str, int] | None = None,
) -> RouteTable:
    """Import SPROUT-schema Parquet/JSONL files (a file, or a folder sorted by name)."""
    cfg = source_config("sprout")
    files = list_input_files(path, tuple(cfg["extensions"]))
    prices = cfg["prices_per_1m_tokens"]
    parts = []
    for f in files:
        canonical, models = records_to_canonical(read_records(f), str(f), prices, f.stem)
        parts.append((canonical, models, str(f)))
    notes = {"notes": f"imported from {[f.name for f in files]}; cost from token counts"}
    return _merge(parts, missing=missing, report=report, where=path, card=_card(cfg, notes))


def _parse_splits(splits: str | list[str] | None, known: list[str]) -> list[str]:
    if splits is None:
        return list(known)
    chosen = [s.strip() for s in splits.split(",")] if isinstance(splits, str) else list(splits)
    bad = [s for s in chosen if s not in known]
    if bad or not chosen:
        raise DatasetError(f"--splits {splits!r}: unknown split(s) {bad}; choose from {known}")
    return chosen


def fetch(splits: list[str]) -> list[tuple[str, pd.DataFrame]]:
    """Download the SPROUT splits from the Hugging Face hub as DataFrames."""
    cfg = source_config("sprout")
    prepare_hub()
    import datasets

    out = []
    for split in splits:
        try:
            ds = datasets.load_dataset(cfg["repo_id"], split=split)
        except Exception as exc:  # datasets raises many network and HTTP error types
            raise as_unavailable(exc, f"{cfg['repo_id']} split {split!r}") from exc
        out.append((split, ds.to_pandas()))
    return out


def _build(
    *,
    from_path: str | Path | None = None,
    missing: MissingPolicy = "error",
    report: dict[str, int] | None = None,
    splits: str | list[str] | None = None,
) -> RouteTable:
    cfg = source_config("sprout")
    if from_path is not None:
        if splits is not None:
            raise DatasetError("--splits applies to the hub download; with --from, pass the files")
        return import_local(from_path, missing=missing, report=report)
    chosen = _parse_splits(splits, list(cfg["splits"]))
    parts = []
    for split, frame in fetch(chosen):
        where = f"{cfg['repo_id']}:{split}"
        canonical, models = records_to_canonical(
            frame, where, cfg["prices_per_1m_tokens"], split
        )
        parts.append((canonical, models, where))
    card = _card(cfg, {"hf_repo": cfg["repo_id"], "splits": chosen})
    return _merge(parts, missing=missing, report=report, where=cfg["repo_id"], card=card)


register(
    Source(
        name="sprout",
        description="SPROUT (CARROT-LLM-Routing/SPROUT, 13 LLMs); costs from token counts",
        build=_build,
        options=("splits",),
    )
)
