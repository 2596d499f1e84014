"""routebench: online, budget-constrained LLM routing (PORT, Wu & Silwal, NeurIPS 2025)."""

from routebench.paths import configure_numba_cache as _configure_numba_cache

#: The one place the version is written: pyproject.toml reads it (``[tool.setuptools.dynamic]``).
__version__ = "0.1.0"

# Before any module imports numba: its compiled kernels go to a folder this user can write.
_configure_numba_cache()
