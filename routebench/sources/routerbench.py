"""RouterBench (Hu et al. 2024): Hugging Face ``withmartian/routerbench`` or local copies.

RouterBench's wide format has one row per query: an optional leading unnamed index,
``sample_id``, ``prompt`` (often a Python-list string such as ``"['text']"``), ``eval_name`` (the
task), and per model ``<model>`` (score) and ``<model>|total_cost`` (USD). Other columns
(``<model>|model_response``, ``oracle_model_to_route_to``, ...) are ignored. The models are the
columns X for which ``X|total_cost`` exists. Costs are taken from the file unchanged.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from routebench import io
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
    Source,
    as_unavailable,
    list_input_files,
    prepare_hub,
    register,
    source_config,
)

COST_SUFFIX = "|total_cost"
REQUIRED = ("sample_id", "prompt", "eval_name")


PICKLE_SUFFIXES = (".pkl", ".pickle")


def known_releases() -> dict[str, str]:
    """SHA-256 -> file name of RouterBench's released pickles (``sources.yaml``)."""
    files = source_config("routerbench").get("files", {})
    return {str(f["sha256"]): str(f["name"]) for f in files.values()}


def _unpickle(path: Path, *, allow_pickle: bool) -> Any:
    """Unpickle ``path`` only when it is a pinned RouterBench release (by SHA-256) or the user
    opted in with ``allow_pickle``: unpickling runs whatever code the file carries."""
    digest = io.file_sha256(path)
    if digest not in known_releases() and not allow_pickle:
        raise DatasetError(
            f"{path}: refusing to unpickle: loading a pickle can run arbitrary code, and its "
            f"SHA-256 {digest[:16]}... is not a known RouterBench release. Convert it to Parquet "
            "or CSV, or opt in with allow_pickle (--allow-pickle) if you trust where it came from"
        )
    try:
        return pd.read_pickle(path)
    except Exception as exc:  # noqa: BLE001 - unpickling can raise anything (corrupt data)
        raise DatasetError(
            f"{path}: cannot unpickle ({type(exc).__name__}: {exc}); the file is corrupt or "
            "not a pandas pickle"
        ) from None


def read_wide_file(path: str | Path, *, allow_pickle: bool = False) -> pd.DataFrame:
    """One RouterBench wide-format file (CSV, pickle or Parquet) as a DataFrame.

    A pickle is unpickled only when it is one of RouterBench's released files (SHA-256 pinned in
    ``sources.yaml``) or ``allow_pickle`` is set: a pickle can run code when loaded."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            frame = pd.read_csv(path)
        elif suffix in PICKLE_SUFFIXES:
            frame = _unpickle(path, allow_pickle=allow_pickle)
        elif suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            raise DatasetError(f"{path}: unsupported file type {suffix!r}")
    except DatasetError:
        raise
    except Exception as exc:  # noqa: BLE001 - the readers raise many types for corrupt files
        raise DatasetError(f"{path}: cannot read {suffix} file ({type(exc).__name__}: {exc})") \
            from None
    if not isinstance(frame, pd.DataFrame):
        raise DatasetError(f"{path}: expected a table, found a {type(frame).__name__}")
    return frame


def unwrap_prompt(value: Any) -> str:
    """A prompt as plain text: a Python-list string ``"['a', 'b']"`` (or a list) becomes its
    elements joined by blank lines; anything else is returned as text."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return "\n\n".join(str(v) for v in value)
    if not isinstance(value, str):
        return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        try:
            parsed = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return value
        if isinstance(parsed, (list, tuple)) and all(isinstance(v, str) for v in parsed):
            return "\n\n".join(parsed)
    return value


def wide_to_canonical(frame: pd.DataFrame, file: str | Path) -> tuple[pd.DataFrame, list[str]]:
    """RouterBench's wide frame -> the canonical frame of ``table_from_frame`` (with provenance
    columns naming ``file`` and the row there), and the model names in file order."""
    missing_cols = [c for c in REQUIRED if c not in frame.columns]
    if missing_cols:
        raise DatasetError(
            f"{file}, column {missing_cols[0]!r}: required column is missing (RouterBench files "
            f"need {list(REQUIRED)}, '<model>' and '<model>{COST_SUFFIX}' columns)"
        )
    columns = [str(c) for c in frame.columns]
    models = [c[: -len(COST_SUFFIX)] for c in columns if c.endswith(COST_SUFFIX)]
    if not models:
        raise DatasetError(
            f"{file}: zero models (no '<model>{COST_SUFFIX}' columns); columns are "
            f"{columns[:8]}..."
        )
    no_score = [m for m in models if m not in frame.columns]
    if no_score:
        raise DatasetError(
            f"{file}, column {no_score[0]!r}: score column is missing for model {no_score[0]!r} "
            f"(the file has {no_score[0] + COST_SUFFIX!r})"
        )
    # A model is also any name with its own '<model>|...' column, or a bare numeric column:
    # one without '<model>|total_cost' would otherwise be dropped without a word.
    skip = set(REQUIRED) | set(source_config("routerbench").get("non_model_columns", []))
    named = {c.split("|", 1)[0] for c in columns if "|" in c}
    bare = {c for c in columns if "|" not in c and c not in skip
            and pd.api.types.is_numeric_dtype(frame[c])}
    no_cost = sorted((named | bare) - set(models))
    if no_cost:
        raise DatasetError(
            f"{file}, column {no_cost[0] + COST_SUFFIX!r}: cost column is missing for model "
            f"{no_cost[0]!r} (every model needs '<model>' and '<model>{COST_SUFFIX}' columns)"
        )
    ids = frame["sample_id"]
    if ids.isna().any():
        row = int(np.flatnonzero(ids.isna().to_numpy())[0])
        raise DatasetError(f"{file}, column 'sample_id', row {row}: missing id")
    data: dict[str, Any] = {
        "id": ids.astype(str).to_numpy(dtype=object),
        "prompt": frame["prompt"].map(unwrap_prompt).to_numpy(dtype=object),
        "task": frame["eval_name"].astype(str).to_numpy(dtype=object),
    }
    for m in models:
        data[PERF_PREFIX + m] = frame[m].to_numpy()
    for m in models:
        data[COST_PREFIX + m] = frame[m + COST_SUFFIX].to_numpy()
    data[SOURCE_FILE_COL] = np.full(len(frame), str(file), dtype=object)
    data[SOURCE_ROW_COL] = np.arange(len(frame))
    return pd.DataFrame(data), models


def import_wide(
    path: str | Path,
    *,
    missing: MissingPolicy = "error",
    allow_pickle: bool = False,
    report: dict[str, int] | None = None,
    name: str = "routerbench",
    card: dict[str, Any] | None = None,
) -> RouteTable:
    """Import a RouterBench wide-format file, or a folder of them (sorted by name; every file
    must have the same models). Errors name the real file and row."""
    cfg = source_config("routerbench")
    files = list_input_files(path, tuple(cfg["extensions"]))
    frames, models = [], None
    for f in files:
        canonical, found = wide_to_canonical(read_wide_file(f, allow_pickle=allow_pickle), f)
        if models is None:
            models = found
        elif sorted(found) != sorted(models):
            extra = sorted(set(found) - set(models))
            absent = sorted(set(models) - set(found))
            raise DatasetError(
                f"{f}: models differ from {files[0].name}: extra {extra}, missing {absent}"
            )
        frames.append(canonical)
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    info = {
        "source": "routerbench",
        "licence": cfg["licence"],
        "citation": cfg["citation"],
        "notes": f"imported from {len(files)} file(s): {[f.name for f in files]}",
        **(card or {}),
    }
    return table_from_frame(
        frame,
        name=name,
        file=Path(path),
        models=models,
        missing=missing,
        card=info,
        report=report,
    )


def fetch(five_shot: bool = False) -> Path:
    """Download RouterBench's 0-shot (or 5-shot) pickle from the Hugging Face hub at the pinned
    revision and check its SHA-256 before anyone unpickles it; its path."""
    cfg = source_config("routerbench")
    entry = cfg["files"]["five_shot" if five_shot else "zero_shot"]
    prepare_hub()
    from huggingface_hub import hf_hub_download

    try:
        path = Path(hf_hub_download(repo_id=cfg["repo_id"], filename=entry["name"],
                                    repo_type=cfg["repo_type"], revision=cfg["revision"]))
    except Exception as exc:  # the hub client raises many network and HTTP error types
        raise as_unavailable(exc, f"{cfg['repo_id']}/{entry['name']}") from exc
    digest = io.file_sha256(path)
    if digest != entry["sha256"]:
        raise DatasetError(
            f"{path}: SHA-256 {digest} differs from the pinned {entry['sha256']} of "
            f"{cfg['repo_id']}@{cfg['revision'][:12]}/{entry['name']}; refusing to unpickle it "
            "(delete the file from the Hugging Face cache and retry)"
        )
    return path


def _build(
    *,
    from_path: str | Path | None = None,
    missing: MissingPolicy = "error",
    report: dict[str, int] | None = None,
    five_shot: bool = False,
    allow_pickle: bool = False,
) -> RouteTable:
    cfg = source_config("routerbench")
    if from_path is None:
        path = fetch(five_shot)
        variant = {"hf_repo": cfg["repo_id"], "hf_revision": cfg["revision"],
                   "hf_file": path.name}
    else:
        path = Path(from_path)
        variant = {}
    return import_wide(path, missing=missing, report=report, card=variant,
                       allow_pickle=allow_pickle)


register(
    Source(
        name="routerbench",
        description="RouterBench (withmartian/routerbench, 11 LLMs); --from imports CSV/pickle/"
        "Parquet files in its wide format",
        build=_build,
        options=("five_shot", "allow_pickle"),
    )
)
