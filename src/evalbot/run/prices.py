"""Built-in prices, so that the cost cap does not depend on a price the pull request writes.

A model config's ``price`` is the PR author's to edit. In the action, ``max-cost-usd`` counts each
call at the higher of the config's price and this table's, and an unknown model at a deliberately
high default: a PR can make the cap trip sooner, never later.

The figures are approximate list prices in USD per million tokens, as published by the vendors
in mid-2025 (PRICES_AS_OF); they bound spend, they are not an invoice.
"""

from __future__ import annotations

from evalbot.inputs.config import Price

__all__ = ["PRICES_AS_OF", "UNKNOWN_MODEL_PRICE", "cap_price", "table_price"]

PRICES_AS_OF = "2025-07"

UNKNOWN_MODEL_PRICE = Price(input=15.0, output=75.0)
"""For a model id not in the table: as dear as the dearest common chat model."""

# Longest matching prefix wins, so dated snapshots ("gpt-4o-mini-2024-07-18") find their family
# and "gpt-4o-mini" is not priced as "gpt-4o".
_TABLE: dict[str, tuple[float, float]] = {
    "gpt-5": (1.25, 10.0),
    "gpt-5-mini": (0.25, 2.0),
    "gpt-5-nano": (0.05, 0.40),
    "gpt-4.1": (2.0, 8.0),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o": (2.50, 10.0),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4-turbo": (10.0, 30.0),
    "gpt-4": (30.0, 60.0),
    "gpt-3.5-turbo": (0.50, 1.50),
    "o1": (15.0, 60.0),
    "o1-mini": (1.10, 4.40),
    "o1-pro": (150.0, 600.0),
    "o3": (2.0, 8.0),
    "o3-mini": (1.10, 4.40),
    "o3-pro": (20.0, 80.0),
    "o4-mini": (1.10, 4.40),
    "claude-3-5-haiku": (0.80, 4.0),
    "claude-3-5-sonnet": (3.0, 15.0),
    "claude-3-7-sonnet": (3.0, 15.0),
    "claude-sonnet-4": (3.0, 15.0),
    "claude-opus-4": (15.0, 75.0),
    "claude-3-haiku": (0.25, 1.25),
    "claude-3-opus": (15.0, 75.0),
    "gemini-2.5-pro": (1.25, 10.0),
    "gemini-2.5-flash": (0.30, 2.50),
    "gemini-2.0-flash": (0.10, 0.40),
}


def table_price(model: str) -> Price:
    """The table's price for ``model`` (provider prefixes such as ``openai/`` ignored), or
    ``UNKNOWN_MODEL_PRICE``."""
    name = model.strip().lower().rsplit("/", 1)[-1]
    best = max((p for p in _TABLE if name == p or name.startswith(p + "-")), key=len, default=None)
    if best is None:
        return UNKNOWN_MODEL_PRICE
    return Price(input=_TABLE[best][0], output=_TABLE[best][1])


def cap_price(model: str, configured: Price | None) -> Price:
    """The price the cost cap counts: per direction, the higher of the table's and the
    config's."""
    table = table_price(model)
    if configured is None:
        return table
    return Price(
        input=max(table.input, configured.input), output=max(table.output, configured.output)
    )
