"""Bug signatures: one normalised title per finding, in the manner of syzkaller's crash titles.

    sig = sign(backend="tvm", kind="exception", stage="compile", message=..., log=..., ops=op_types(model))
    sig.title, sig.alt_titles, sig.key

A title is `BACKEND: KIND in STAGE: HEADLINE [OP, OP]`: the backend name without an interpreter
path, the failure kind and stage, the headline (the normalised line of the message that states the
error, see `headline`; for a wrong result, the dtype of the output it is in) and the ONNX op types
of the (reduced) model in canonical topological order. The op list is what a crash stack is to
syzkaller: where the bug is, so two findings with one generic message ("wrong result") but
different ops are two buckets. `alt_titles` name the same finding other ways (without ops, by top
frame, by op set; the server routes a finding by the first of its titles that is a bucket's).
`key` is the title without ops and dtype: what must stay equal while a finding is reduced.
"""

from __future__ import annotations

from dataclasses import dataclass

from oracles.signature.frames import frames
from oracles.signature.headline import headline
from oracles.signature.normalise import normalise, shorten
from oracles.signature.ops import op_types

MAX_OPS = 10  # more ops than this (an unreduced model) are elided in titles


@dataclass(frozen=True)
class Signature:
    """A finding's names. `title` buckets it; `alt_titles` are other names of the same finding."""

    title: str
    alt_titles: tuple[str, ...]
    key: str
    headline: str
    frames: tuple[str, ...]
    ops: tuple[str, ...]

    def to_json(self) -> dict:
        return {
            "title": self.title,
            "alt_titles": list(self.alt_titles),
            "key": self.key,
            "headline": self.headline,
            "frames": list(self.frames),
            "ops": list(self.ops),
        }


def sign(*, backend: str, kind: str, stage: str, message: str, log: str = "", ops=(), dtype: str = "") -> Signature:
    """The signature of a failure of `backend` (a catalog name; an `@python` suffix is dropped).

    `dtype` is the element type of the output a wrong result is in: a float64 output off in its
    last digits (a backend computing in float32) is another bug than a float32 output off by 999.
    It is in the title, not in the key: a reduction may follow a wrong value upstream through a
    Cast or a comparison to where it starts.
    """
    backend = backend.split("@", 1)[0]
    head = headline(kind, message, log)
    top = tuple(frames(log)) if kind in ("exception", "crash") else ()
    key = f"{backend}: {kind} in {stage}" + (f": {head}" if head else "")
    name = f"{key} in {dtype}" if dtype and kind in ("wrong_result", "nan_mismatch") else key
    ops = tuple(ops)
    title = f"{name} [{_ops(ops)}]"
    alts = [name]
    if top:
        alts.append(f"{name} in {top[0]}")
    alts.append(f"{name} [{_ops(tuple(sorted(set(ops))))}]")
    alt_titles = tuple(dict.fromkeys(a for a in alts if a != title))
    return Signature(title, alt_titles, key, head, top, ops)


def _ops(ops: tuple[str, ...]) -> str:
    if len(ops) <= MAX_OPS:
        return ", ".join(ops)
    return ", ".join(ops[:MAX_OPS]) + f", … (+{len(ops) - MAX_OPS})"


__all__ = ["Signature", "frames", "headline", "normalise", "op_types", "shorten", "sign"]
