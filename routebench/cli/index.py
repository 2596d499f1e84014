"""`routebench build-index`."""

from routebench.cli.common import app, not_built


@app.command("build-index")
def build_index() -> None:
    """Embed prompts and build ANN indexes (not built yet)."""
    not_built("build-index")
