"""Parameter values checked against their declared types: one home for the type checks of
``SimConfig`` fields and of router parameter classes.

Values come from the command line, YAML sweep files and manifests, so they are checked, never
trusted: an ``int`` field takes an integer (``2.0`` becomes 2, ``2.5`` is refused), a ``float``
field a finite number (``true`` is refused), a ``str`` field text, list fields lists and mapping
fields mappings. Errors are :class:`routebench.errors.ParamError` (or the subclass the caller
passes) naming the parameter.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, TypeVar

from routebench.errors import ParamError

E = type[ParamError]
T = TypeVar("T")

#: Nearest historical queries behind each estimate (the paper's k = 5).
DEFAULT_TOP_K = 5


def describe(value: Any) -> str:
    """A value and its type, for messages: ``'abc' (str)``."""
    return f"{value!r} ({type(value).__name__})"


def _as_int(param: str, value: Any, error: E) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise error(param, f"expected an integer, got {describe(value)}")
    if isinstance(value, float):
        if not value.is_integer():
            raise error(param, f"expected an integer, got {value!r}")
        value = int(value)
    return int(value)


def _as_float(param: str, value: Any, error: E) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise error(param, f"expected a number, got {describe(value)}")
    value = float(value)
    if not math.isfinite(value):
        raise error(param, f"expected a finite number, got {value!r}")
    return value


def _as_bool(param: str, value: Any, error: E) -> bool:
    if not isinstance(value, bool):
        raise error(param, f"expected true or false, got {describe(value)}")
    return value


def _as_str(param: str, value: Any, error: E) -> str:
    if not isinstance(value, str):
        raise error(param, f"expected text, got {describe(value)}")
    return value


def _as_tuple(param: str, value: Any, item: Any, error: E) -> tuple[Any, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise error(param, f"expected a list, got {describe(value)}")
    return tuple(item(param, v, error) for v in value)


def _as_pairs(param: str, value: Any, error: E) -> tuple[tuple[str, Any], ...]:
    """``{key: value}`` or ``[(key, value), ...]`` -> a tuple of pairs sorted by key."""
    if isinstance(value, Mapping):
        value = list(value.items())
    items = _as_tuple(param, value, lambda p, v, e: v, error)
    pairs = []
    for pair in items:
        if not isinstance(pair, (list, tuple)) or len(pair) != 2 or not isinstance(pair[0], str):
            raise error(param, f"expected a mapping of names to values, got {value!r}")
        pairs.append((pair[0], pair[1]))
    if len({k for k, _ in pairs}) != len(pairs):
        raise error(param, f"repeats a key: {value!r}")
    return tuple(sorted(pairs))


def as_mapping(param: str, value: Any, error: E = ParamError) -> dict[str, Any]:
    """A parameter map given as a mapping or as (name, value) pairs (None: empty), as a dict;
    anything else refused naming ``param``."""
    return dict(_as_pairs(param, () if value is None else value, error))


_SCALARS = {"int": _as_int, "float": _as_float, "str": _as_str, "bool": _as_bool}


def coerce(param: str, kind: Any, value: Any, error: E = ParamError) -> Any:
    """``value`` checked against the annotation ``kind`` (a string under ``from __future__
    import annotations``) and normalised: ints for int fields, floats for float fields, tuples
    for lists, sorted pairs for parameter maps; ``X | None`` also takes None."""
    # a string under ``from __future__ import annotations``; the type itself otherwise
    kind = (kind.__name__ if isinstance(kind, type) else str(kind)).replace(" ", "")
    if kind.endswith("|None"):
        if value is None:
            return None
        kind = kind[: -len("|None")]
    if kind in _SCALARS:
        return _SCALARS[kind](param, value, error)
    if kind in ("tuple[str,...]", "tuple[int,...]"):
        return _as_tuple(param, value, _SCALARS[kind[6:-5]], error)
    if kind == "tuple[tuple[str,Any],...]":
        return _as_pairs(param, value, error)
    if kind == "tuple[tuple[str,tuple[tuple[str,Any],...]],...]":
        outer = _as_pairs(param, value, error)
        return tuple((name, _as_pairs(f"{param}.{name}", inner, error)) for name, inner in outer)
    raise TypeError(f"{param}: no type check for annotation {kind!r}")


def build(cls: type[T], values: Mapping[str, Any], *, prefix: str = "",
          error: E = ParamError) -> T:
    """An instance of the dataclass ``cls`` from ``values``: unknown names are refused (naming
    the known ones), each value is checked against its field's type, the rest keep their
    defaults; the class's own ``__post_init__`` then checks ranges. ``prefix`` (e.g. ``port.``)
    is put before parameter names in messages."""
    known = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise error(f"{prefix}{unknown[0]}", f"unknown parameter; known: "
                    f"{', '.join(known) or 'none'}")
    checked = {k: coerce(f"{prefix}{k}", known[k].type, v, error) for k, v in values.items()}
    try:
        return cls(**checked)
    except ParamError as exc:
        raise error(f"{prefix}{exc.param}", exc.detail) from None


def check_top_k(top_k: Any, n_history: int | None = None, *, test_size: int | None = None,
                dataset: str | None = None, error: E = ParamError) -> int:
    """``top_k`` checked (``error`` naming ``top_k``): an integer >= 1 and, given the number of
    historical queries ``n_history``, at most that. The one check of ``top_k``, used by
    ``SimConfig``, the estimate specs and ``simulate`` against the dataset."""
    if isinstance(top_k, bool) or not isinstance(top_k, int):
        try:
            import numpy as np  # numpy integers are integers too

            if not isinstance(top_k, np.integer) or isinstance(top_k, bool):
                raise TypeError
        except TypeError:
            raise error("top_k", f"expected an integer, got {top_k!r}") from None
    if top_k < 1:
        raise error("top_k", f"must be at least 1, got {top_k}")
    if n_history is not None and top_k > n_history:
        of = f" of dataset {dataset!r}" if dataset is not None else ""
        at = f" at test_size {test_size}" if test_size is not None else ""
        raise error("top_k", f"{top_k} exceeds the {n_history:,} historical queries{of}{at}; "
                    "lower it (or test_size)")
    return int(top_k)
