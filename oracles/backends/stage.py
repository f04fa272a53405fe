"""Attribute a backend exception to a stage ("load", "compile", "run") for the worker's report.

Used by the backend modules on the worker side (standard library only). The worker reads the
exception's `.stage` attribute; tagging the original exception keeps its type name and message,
which bug signatures are built from (wrapping it in a new type would hide both).
"""

from __future__ import annotations

from contextlib import contextmanager


class Staged(Exception):
    """An error of a known stage, for exceptions that cannot carry an attribute."""

    def __init__(self, stage: str, msg: str):
        super().__init__(msg)
        self.stage = stage


@contextmanager
def stage(name: str):
    """Tag any exception raised inside the block with `.stage = name` (unless already tagged)."""
    try:
        yield
    except Exception as e:
        if getattr(e, "stage", None) is None:
            try:
                e.stage = name
            except (AttributeError, TypeError):
                raise Staged(name, f"{type(e).__name__}: {e}") from e
        raise
