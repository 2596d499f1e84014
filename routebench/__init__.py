"""routebench: online, budget-constrained LLM routing (PORT, Wu & Silwal, NeurIPS 2025)."""

__version__ = "0.1.0"
