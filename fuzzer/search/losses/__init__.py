"""Per-op losses of the input search, one small module per kind of hazard (see `table`)."""

from fuzzer.search.losses import domain, edges, normalization, overflow, ties  # noqa: F401  (register on import)
from fuzzer.search.losses.base import Need, OpView
from fuzzer.search.losses.table import loss_for, needs_of, table

__all__ = ["Need", "OpView", "loss_for", "needs_of", "table"]
