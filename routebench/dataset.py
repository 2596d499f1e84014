"""The one dataset model of routebench: ``RouteTable``.

A table holds N queries (id, prompt text, task name), the names of M LLMs, an N x M matrix of
performance scores in [0, 1] (``perf``, the paper's d_ij) and an N x M matrix of costs in USD
(``cost``, the paper's g_ij).

On disk a dataset is ``data/<name>/table.parquet`` (columns ``id``, ``prompt``, ``task``, then
``perf::<model>`` and ``cost::<model>`` per model, in model order) plus ``data/<name>/card.json``.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from routebench import io
from routebench.errors import IntegrityError

PERF_PREFIX = "perf::"
COST_PREFIX = "cost::"
TABLE_FILE = "table.parquet"
CARD_FILE = "card.json"

MissingPolicy = Literal["error", "drop", "coalesce"]

#: Optional provenance columns of a canonical frame: the input file each row came from and its
#: row number there (0-based, header excluded). Importers that merge several files set them so
#: that errors name the real file and row; they are not stored in the table.
SOURCE_FILE_COL = "_source_file"
SOURCE_ROW_COL = "_source_row"


class DatasetError(ValueError):
    """Bad input data. The message names the file, column, row and value at fault."""


def _where(file: str | Path | None, column: str | None = None, row: Any = None) -> str:
    parts = [str(file) if file else "<table>"]
    if column is not None:
        parts.append(f"column {column!r}")
    if row is not None:
        parts.append(f"row {row}")
    return ", ".join(parts)


@dataclass(frozen=True, eq=False)
class RouteTable:
    """N queries x M LLMs: per-query performance in [0, 1] and cost in USD.

    ``perf[j, i]`` and ``cost[j, i]`` are query j's score and USD cost on LLM ``models[i]``.
    ``embeddings`` (optional, N x D float32) are precomputed prompt vectors.
    ``card`` carries provenance (source, licence, prices, ...) that is not per query.
    """

    ids: np.ndarray
    prompts: np.ndarray
    tasks: np.ndarray
    models: tuple[str, ...]
    perf: np.ndarray
    cost: np.ndarray
    name: str = "dataset"
    embeddings: np.ndarray | None = None
    card: dict[str, Any] = field(default_factory=dict)

    # ----------------------------------------------------------------- basics
    @property
    def n(self) -> int:
        """Number of queries."""
        return int(self.perf.shape[0])

    @property
    def m(self) -> int:
        """Number of LLMs."""
        return len(self.models)

    def __len__(self) -> int:
        return self.n

    def __repr__(self) -> str:
        return f"RouteTable(name={self.name!r}, n={self.n}, m={self.m})"

    def subset(self, rows: np.ndarray) -> RouteTable:
        """The queries at ``rows`` (integer positions or a boolean mask), in that order."""
        rows = np.asarray(rows)
        emb = None if self.embeddings is None else self.embeddings[rows]
        return replace(
            self,
            ids=self.ids[rows],
            prompts=self.prompts[rows],
            tasks=self.tasks[rows],
            perf=self.perf[rows],
            cost=self.cost[rows],
            embeddings=emb,
        )

    def select_models(self, names: list[str] | tuple[str, ...]) -> RouteTable:
        """The same queries restricted to the LLMs ``names``, in that order."""
        missing = [n for n in names if n not in self.models]
        if missing:
            raise DatasetError(
                f"{self.name}: unknown model(s) {missing}; the dataset has {list(self.models)}"
            )
        if len(set(names)) != len(names):
            raise DatasetError(f"{self.name}: model list {list(names)} has duplicates")
        cols = [self.models.index(n) for n in names]
        return replace(self, models=tuple(names), perf=self.perf[:, cols], cost=self.cost[:, cols])

    # ----------------------------------------------------------------- stats
    def mean_perf(self) -> np.ndarray:
        """Per-LLM mean score (length M)."""
        return self.perf.mean(axis=0)

    def mean_cost(self) -> np.ndarray:
        """Per-LLM mean cost per query in USD (length M)."""
        return self.cost.mean(axis=0)

    def task_counts(self) -> dict[str, int]:
        names, counts = np.unique(self.tasks.astype(str), return_counts=True)
        return {str(k): int(v) for k, v in zip(names, counts, strict=True)}

    def content_hash(self) -> str:
        """SHA-256 (first 16 hex digits) of ids, prompts, tasks, models, perf and cost.
        Computed once per table (tables are immutable)."""
        return self._content_hash

    @functools.cached_property
    def _content_hash(self) -> str:
        h = hashlib.sha256()
        for col in (self.ids, self.prompts, self.tasks):
            # str.join over the Python strings runs in C; col.astype(str) would first build a
            # fixed-width array as wide as the longest prompt (gigabytes at 2M prompts).
            h.update("\x00".join(map(str, col.tolist())).encode("utf-8", "surrogatepass"))
            h.update(b"\x01")
        h.update("\x00".join(self.models).encode("utf-8"))
        h.update(np.ascontiguousarray(self.perf, dtype="<f8").tobytes())
        h.update(np.ascontiguousarray(self.cost, dtype="<f8").tobytes())
        return h.hexdigest()[:16]

    # ----------------------------------------------------------------- frames
    def to_frame(self) -> pd.DataFrame:
        data: dict[str, Any] = {
            # pandas converts element by element; numpy's astype(str) would build a fixed-width
            # array as wide as the longest prompt.
            "id": pd.Series(self.ids, dtype=object).astype(str),
            "prompt": pd.Series(self.prompts, dtype=object).astype(str),
            "task": pd.Series(self.tasks, dtype=object).astype(str),
        }
        for i, model in enumerate(self.models):
            data[PERF_PREFIX + model] = self.perf[:, i]
        for i, model in enumerate(self.models):
            data[COST_PREFIX + model] = self.cost[:, i]
        return pd.DataFrame(data)

    def make_card(self, **extra: Any) -> dict[str, Any]:
        """The JSON card: provenance from ``self.card`` plus summary statistics."""
        card = dict(self.card)
        card.update(extra)
        card.update(
            {
                "name": self.name,
                "n_queries": self.n,
                "n_models": self.m,
                "models": list(self.models),
                "tasks": self.task_counts(),
                "mean_perf": dict(zip(self.models, map(float, self.mean_perf()), strict=True)),
                "mean_cost_usd": dict(
                    zip(self.models, map(float, self.mean_cost()), strict=True)
                ),
                "content_hash": self.content_hash(),
            }
        )
        card.setdefault("source", "unknown")
        card.setdefault("licence", "unknown")
        return card


# --------------------------------------------------------------------------- validation
def _model_columns(frame: pd.DataFrame, file: str | Path | None) -> tuple[str, ...]:
    perf_models = [c[len(PERF_PREFIX) :] for c in frame.columns if c.startswith(PERF_PREFIX)]
    cost_models = [c[len(COST_PREFIX) :] for c in frame.columns if c.startswith(COST_PREFIX)]
    no_cost = [m for m in perf_models if m not in cost_models]
    no_perf = [m for m in cost_models if m not in perf_models]
    if no_cost:
        raise DatasetError(
            f"{_where(file, COST_PREFIX + no_cost[0])}: missing cost column for model "
            f"{no_cost[0]!r} (every '{PERF_PREFIX}<model>' needs a '{COST_PREFIX}<model>')"
        )
    if no_perf:
        raise DatasetError(
            f"{_where(file, PERF_PREFIX + no_perf[0])}: missing performance column for model "
            f"{no_perf[0]!r} (every '{COST_PREFIX}<model>' needs a '{PERF_PREFIX}<model>')"
        )
    return tuple(perf_models)


def _locator(frame: pd.DataFrame, file: str | Path | None) -> Callable[[str | None, int], str]:
    """``where(column, row)`` for positions in ``frame``: the row's own input file and row
    number when the provenance columns are present, else ``file`` and the position."""
    if SOURCE_FILE_COL in frame.columns:
        files = frame[SOURCE_FILE_COL].astype(str).to_numpy(dtype=object)
        rows = (
            frame[SOURCE_ROW_COL].to_numpy()
            if SOURCE_ROW_COL in frame.columns
            else np.arange(len(frame))
        )

        def where(column: str | None, row: int) -> str:
            return _where(files[row], column, int(rows[row]))

        return where
    return lambda column, row: _where(file, column, row)


def _first_bad(mask: np.ndarray) -> tuple[int, int]:
    j, i = np.argwhere(mask)[0]
    return int(j), int(i)


def _coalesce(frame: pd.DataFrame, models: tuple[str, ...]) -> tuple[pd.DataFrame, int]:
    """Merge rows that share an id and complement each other; return (frame, rows merged away).

    Copies complement each other when, for every model, at most one distinct (score, cost) pair
    is present among the copies that hold a score for it. A model's score and cost are taken
    together from the copy that scored it (so a cost is always the one of the run that produced
    the score); the prompt, task and provenance come from the copy with the most scores. Copies
    that conflict are all kept (and then refused as duplicated ids). Rows keep the order of
    each id's first appearance.
    """
    frame = frame.reset_index(drop=True)
    dup = frame["id"].duplicated(keep=False).to_numpy()
    if not dup.any():
        return frame, 0
    perf_cols = [PERF_PREFIX + m for m in models]
    sub = frame.loc[dup].assign(_pos=np.flatnonzero(dup))
    conflicting: set[Any] = set()
    picks: dict[str, pd.DataFrame] = {}
    for m in models:
        pair = [PERF_PREFIX + m, COST_PREFIX + m]
        scored = sub.loc[sub[pair[0]].notna(), ["id", *pair]]
        distinct = scored.drop_duplicates().groupby("id", sort=False).size()
        conflicting.update(distinct.index[distinct > 1])
        picks[m] = scored.drop_duplicates("id").set_index("id")[pair]
    n_scores = sub[perf_cols].notna().sum(axis=1)
    base = (
        sub.assign(_n=n_scores)
        .sort_values(["_n", "_pos"], ascending=[False, True], kind="stable")
        .drop_duplicates("id")
    )
    base = base.loc[~base["id"].isin(conflicting)].set_index("id")
    for m, pick in picks.items():
        pick = pick.reindex(base.index)
        base[PERF_PREFIX + m] = pick[PERF_PREFIX + m]
        base[COST_PREFIX + m] = pick[COST_PREFIX + m]
    first_pos = sub.groupby("id", sort=False)["_pos"].min()
    base["_pos"] = first_pos.reindex(base.index)
    kept = sub.loc[sub["id"].isin(conflicting)]
    singles = frame.loc[~dup].assign(_pos=np.flatnonzero(~dup))
    out = pd.concat([singles, base.reset_index().drop(columns="_n"), kept], ignore_index=True)
    out = out.sort_values("_pos", kind="stable").drop(columns="_pos").reset_index(drop=True)
    out = out[list(frame.columns)]
    return out, len(frame) - len(out)


def table_from_frame(
    frame: pd.DataFrame,
    *,
    name: str = "dataset",
    file: str | Path | None = None,
    models: list[str] | tuple[str, ...] | None = None,
    missing: MissingPolicy = "error",
    card: dict[str, Any] | None = None,
    report: dict[str, int] | None = None,
) -> RouteTable:
    """Validate a canonical frame (``id``, ``prompt``, ``task``, ``perf::*``, ``cost::*``).

    ``missing`` says what to do with rows whose scores or costs are missing: ``error`` (refuse),
    ``drop`` (drop those rows), or ``coalesce`` (merge rows that share an id and complement each
    other, then refuse any row still incomplete). Counts of dropped and merged rows are written
    into ``report`` (keys ``dropped``, ``merged``) when given.
    """
    if missing not in ("error", "drop", "coalesce"):
        raise ValueError(f"missing must be 'error', 'drop' or 'coalesce', got {missing!r}")
    for col in ("id", "prompt"):
        if col not in frame.columns:
            raise DatasetError(f"{_where(file, col)}: required column is missing")
    frame = frame.reset_index(drop=True)
    if "task" not in frame.columns:
        frame = frame.assign(task="default")
    found = _model_columns(frame, file)
    if not found:
        raise DatasetError(
            f"{_where(file)}: no model columns (expected '{PERF_PREFIX}<model>' and "
            f"'{COST_PREFIX}<model>' columns for at least one model)"
        )
    if models is not None:
        models = tuple(models)
        absent = [m for m in models if m not in found]
        if absent:
            raise DatasetError(
                f"{_where(file, PERF_PREFIX + absent[0])}: model {absent[0]!r} is missing; "
                f"the file has {list(found)}"
            )
        extra = [m for m in found if m not in models]
        if extra:
            raise DatasetError(
                f"{_where(file, PERF_PREFIX + extra[0])}: unexpected model {extra[0]!r}; "
                f"expected exactly {list(models)}"
            )
    else:
        models = found
    if not models:
        raise DatasetError(f"{_where(file)}: zero models")
    value_cols = [PERF_PREFIX + m for m in models] + [COST_PREFIX + m for m in models]
    for col in value_cols:
        if not pd.api.types.is_numeric_dtype(frame[col]):
            converted = pd.to_numeric(frame[col], errors="coerce")
            bad = converted.isna() & frame[col].notna()
            if bad.any():
                row = int(np.flatnonzero(bad.to_numpy())[0])
                raise DatasetError(
                    f"{_locator(frame, file)(col, row)}: value {frame[col].iloc[row]!r} "
                    "is not a number"
                )
            frame[col] = converted

    dropped = merged = 0
    if missing == "coalesce":
        frame, merged = _coalesce(frame, tuple(models))
    incomplete = frame[value_cols].isna().any(axis=1).to_numpy()
    if incomplete.any():
        if missing == "drop":
            dropped = int(incomplete.sum())
            frame = frame.loc[~incomplete].reset_index(drop=True)
        else:
            row = int(np.flatnonzero(incomplete)[0])
            col = next(c for c in value_cols if pd.isna(frame.at[row, c]))
            raise DatasetError(
                f"{_locator(frame, file)(col, row)} (id {frame.at[row, 'id']!r}): missing value; "
                f"{int(incomplete.sum())} row(s) are incomplete. Pass --drop-missing to drop them "
                "or --coalesce to merge duplicated ids whose copies complement each other"
            )
    if report is not None:
        report["dropped"] = dropped
        report["merged"] = merged
    if len(frame) == 0:
        raise DatasetError(f"{_where(file)}: no queries left (zero rows)")

    where = _locator(frame, file)
    no_id = frame["id"].isna().to_numpy()
    if no_id.any():
        row = int(np.flatnonzero(no_id)[0])
        raise DatasetError(f"{where('id', row)}: missing id (every query needs an id)")
    ids = frame["id"].astype(str).to_numpy(dtype=object)
    dup = pd.Series(ids).duplicated()
    if dup.any():
        row = int(np.flatnonzero(dup.to_numpy())[0])
        raise DatasetError(
            f"{where('id', row)}: duplicated id {ids[row]!r}"
            + (" (pass --coalesce to merge complementary copies)" if missing != "coalesce" else "")
        )
    prompt_col = frame["prompt"].fillna("").astype(str)
    prompts = prompt_col.to_numpy(dtype=object)
    empty = (prompt_col.str.strip() == "").to_numpy()
    if empty.any():
        row = int(np.flatnonzero(empty)[0])
        raise DatasetError(f"{where('prompt', row)} (id {ids[row]!r}): empty prompt")
    tasks = frame["task"].fillna("default").astype(str).to_numpy(dtype=object)

    perf = frame[[PERF_PREFIX + m for m in models]].to_numpy(dtype=np.float64)
    cost = frame[[COST_PREFIX + m for m in models]].to_numpy(dtype=np.float64)
    check_matrices(perf, cost, models, file=file, ids=ids, where=where)
    return RouteTable(
        ids=ids,
        prompts=prompts,
        tasks=tasks,
        models=tuple(models),
        perf=perf,
        cost=cost,
        name=name,
        card=dict(card or {}),
    )


def check_matrices(
    perf: np.ndarray,
    cost: np.ndarray,
    models: tuple[str, ...] | list[str],
    *,
    file: str | Path | None = None,
    ids: np.ndarray | None = None,
    where: Callable[[str | None, int], str] | None = None,
) -> None:
    """Refuse scores outside [0, 1], NaN scores, and negative, NaN or infinite costs.

    ``where(column, row)`` (optional) names the input file and row of a matrix row.
    """
    if where is None:
        where = lambda column, row: _where(file, column, row)  # noqa: E731
    def label(j: int) -> str:
        return f" (id {ids[j]!r})" if ids is not None else ""

    if perf.shape != cost.shape or perf.ndim != 2 or perf.shape[1] != len(models):
        raise DatasetError(
            f"{_where(file)}: perf {perf.shape} and cost {cost.shape} must both be "
            f"N x {len(models)}"
        )
    bad = ~np.isfinite(perf) | (perf < 0) | (perf > 1)
    if bad.any():
        j, i = _first_bad(bad)
        raise DatasetError(
            f"{where(PERF_PREFIX + models[i], j)}{label(j)}: score {perf[j, i]!r} "
            "is outside [0, 1]"
        )
    bad = ~np.isfinite(cost) | (cost < 0)
    if bad.any():
        j, i = _first_bad(bad)
        raise DatasetError(
            f"{where(COST_PREFIX + models[i], j)}{label(j)}: cost {cost[j, i]!r} USD "
            "must be a finite number >= 0"
        )


# --------------------------------------------------------------------------- disk
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def check_name(name: str) -> str:
    """A dataset name, which is its folder's name: letters, digits, '.', '_' and '-' only (no
    path separators, so a name can never reach outside the data folder)."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise DatasetError(
            f"{name!r} is not a valid dataset name (use letters, digits, '.', '_', '-'; it is a "
            "folder under the data folder)"
        )
    return name


def dataset_dir(name: str, data_dir: str | Path = "data") -> Path:
    """The folder of dataset ``name``: ``<data_dir>/<name>``."""
    return Path(data_dir) / check_name(name)


def save_table(table: RouteTable, directory: str | Path, **card_extra: Any) -> dict[str, Any]:
    """Write ``table.parquet`` and ``card.json`` into ``directory`` atomically; return the card."""
    directory = Path(directory)
    card = table.make_card(**card_extra)
    frame = table.to_frame()
    io.write_with(directory / TABLE_FILE, lambda p: frame.to_parquet(p, index=False))
    io.write_json(directory / CARD_FILE, card)
    return card


def read_card(directory: str | Path) -> dict[str, Any]:
    """The ``card.json`` of the dataset in ``directory``; refuses a missing card, or one without
    the content hash that proves which table it describes (``IntegrityError``)."""
    directory = Path(directory)
    card_path = directory / CARD_FILE
    fix = (f"re-create the dataset: `routebench download {directory.name} --force` (with the "
           "same --from PATH and options for an import)")
    if not card_path.is_file():
        raise IntegrityError(
            f"{card_path}: the dataset card is missing, so {TABLE_FILE} cannot be verified "
            f"(the card holds its content hash); {fix}"
        )
    card = io.read_json(card_path)
    if not isinstance(card, dict):
        raise IntegrityError(f"{card_path}: expected a JSON object; {fix}")
    want = card.get("content_hash")
    if not isinstance(want, str) or not re.fullmatch(r"[0-9a-f]{16}", want):
        raise IntegrityError(
            f"{card_path}: no valid content_hash (got {want!r}), so {TABLE_FILE} cannot be "
            f"verified; {fix}"
        )
    models = card.get("models")
    if not isinstance(models, list) or not models or not all(isinstance(m, str) for m in models):
        raise IntegrityError(f"{card_path}: 'models' must be a non-empty list of names; {fix}")
    return card


def load_table(directory: str | Path) -> RouteTable:
    """Load and verify a dataset written by ``save_table``: its card must be present and its
    content hash must match the table's (a table without proof of what it is is refused). The
    dataset's name is its folder's name (never the card's ``name`` field)."""
    directory = Path(directory)
    table_path = directory / TABLE_FILE
    if not table_path.exists():
        raise DatasetError(
            f"{table_path}: no such dataset file; run `routebench download {directory.name}` first"
        )
    card = read_card(directory)
    try:
        frame = pd.read_parquet(table_path)
    except Exception as exc:  # pyarrow raises several types for a corrupt file
        raise DatasetError(f"{table_path}: cannot read Parquet ({exc})") from exc
    table = table_from_frame(
        frame,
        name=directory.name,
        file=table_path,
        models=card["models"],
        card={k: v for k, v in card.items() if k in _PROVENANCE_KEYS},
    )
    del frame
    # pyarrow's allocator keeps the decoded Parquet buffers for reuse: about 0.9 GB at 2M
    # prompts that nothing references once the table is built. Hand them back.
    pa.default_memory_pool().release_unused()
    if card["content_hash"] != table.content_hash():
        raise IntegrityError(
            f"{table_path}: content hash {table.content_hash()} does not match the card's "
            f"{card['content_hash']} ({directory / CARD_FILE}): the table or the card changed "
            f"after download; re-create the dataset: `routebench download {directory.name} "
            "--force` (with the same --from PATH and options for an import)"
        )
    return table


#: Card fields recomputed from the table (``verify_card``).
_SUMMARY_KEYS = ("n_queries", "n_models", "models", "tasks", "mean_perf", "mean_cost_usd",
                 "content_hash")


def verify_card(card: dict[str, Any], table: RouteTable, *, path: str | Path = CARD_FILE) -> None:
    """Refuse a card whose summary (size, models, tasks, per-LLM means, hash) is not what
    ``table`` gives: an edited card must not be shown as if it described the data."""
    fresh = table.make_card()

    def same(key: str) -> bool:
        have, want = card.get(key), fresh[key]
        if key.startswith("mean_"):  # float sums: the summation order may differ by layout
            return (isinstance(have, dict) and set(have) == set(want)
                    and all(isinstance(have[m], (int, float)) and not isinstance(have[m], bool)
                            and math.isclose(have[m], want[m], rel_tol=1e-9, abs_tol=1e-15)
                            for m in want))
        return have == want

    diffs = [k for k in _SUMMARY_KEYS if not same(k)]
    if diffs:
        k = diffs[0]
        raise IntegrityError(
            f"{path}: field {k!r} says {card.get(k)!r} but the table gives {fresh[k]!r}"
            + (f" (and {len(diffs) - 1} more field(s) differ)" if len(diffs) > 1 else "")
            + f"; re-create the dataset: `routebench download {table.name} --force`"
        )


#: Card keys that describe provenance (kept when a table is loaded and saved again).
_PROVENANCE_KEYS = ("source", "licence", "citation", "prices_per_1m_tokens", "notes", "import")
