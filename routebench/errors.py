"""Error types shared across the library (a leaf module: no routebench imports).

Library code names its own parameters (``top_k``), never command-line flags: a notebook user
never typed ``--top-k``. The CLI turns a :class:`ParamError` into a message that names the flag
(``routebench.cli.common``), and ``sweep`` into one that names the key and its line.
"""

from __future__ import annotations


class ParamError(ValueError):
    """A parameter outside its valid range or of the wrong type.

    ``param`` is the parameter's library name (e.g. ``top_k``), ``detail`` what is wrong with its
    value; ``str(exc)`` is ``"<param>: <detail>"``."""

    def __init__(self, param: str, detail: str) -> None:
        self.param = param
        self.detail = detail
        super().__init__(f"{param}: {detail}")


class IntegrityError(ValueError):
    """A stored artefact (table, card, embeddings, index) whose bytes or descriptor do not prove
    it is what it claims to be. The message names the file and the fix."""


class RouterFailure(ValueError):
    """A router failed inside the engine's loop: it raised, or returned a decision of the wrong
    shape, type or range. The message names the router and the query position; ``__cause__``
    holds the router's own exception (the CLI saves its traceback for the router's author)."""


def flag(param: str) -> str:
    """The command-line flag of a library parameter: ``top_k`` -> ``--top-k``."""
    return "--" + param.replace("_", "-")
