"""The operator registry: every spec registers once under its name; duplicates are rejected."""

from __future__ import annotations

from fuzzer.spec.base import OpSpec

_REGISTRY: dict[str, OpSpec] = {}


def register(cls: type[OpSpec]) -> type[OpSpec]:
    """Class decorator: instantiate and register a spec under `cls.name()`."""
    name = cls.name()
    if name in _REGISTRY:
        raise ValueError(f"operator spec {name!r} is registered twice ({_REGISTRY[name]!r} and {cls!r})")
    _REGISTRY[name] = cls()
    return cls


def all_specs() -> dict[str, OpSpec]:
    """Every registered spec by name (importing the op modules on first use)."""
    import fuzzer.spec.ops  # noqa: F401  (registers on import)

    return dict(_REGISTRY)


def get(name: str) -> OpSpec:
    spec = _REGISTRY.get(name)  # no copy of the registry: analyses ask for every node, many times
    if spec is None:
        spec = all_specs().get(name)
    if spec is None:
        raise KeyError(f"unknown operator {name!r}; see `tensorsmith ops` for the list")
    return spec


def select(opset: int, *, ops: list[str] | None = None, exclude: list[str] | None = None) -> list[OpSpec]:
    """Specs available at `opset`, optionally restricted by name or ONNX op type, sorted by name.

    Raises ValueError naming any requested op that does not exist.
    """
    specs = all_specs()
    known = set(specs) | {s.op_type for s in specs.values()}
    for name in (ops or []) + (exclude or []):
        if name not in known:
            raise ValueError(f"unknown operator {name!r}; expected names from `tensorsmith ops`")

    def wanted(n: str, s: OpSpec) -> bool:
        if ops and n not in ops and s.op_type not in ops:
            return False
        if exclude and (n in exclude or s.op_type in exclude):
            return False
        return s.available(opset)

    return [specs[n] for n in sorted(specs) if wanted(n, specs[n])]
