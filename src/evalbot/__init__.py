"""evalbot: paired base-vs-head LLM evals on the pull-request path."""

__version__ = "0.1.0"

__all__ = ["__version__"]
