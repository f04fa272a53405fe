"""What an operator spec is: its inputs, attribute draws, shape rules and torch semantics.

A spec is a class with a few declarative attributes and small hooks; the generator does the rest.
Contract of the hooks (all pure; randomness only through the `Draw`):

- `attrs(d, ins)` draws the attributes. Values may be concrete or symbolic (`d.int`).
- `infer(ins, a)` returns the output shapes as tuples of `Dim` (ints or Z3 expressions).
- `requires(ins, a)` returns validity conditions (bools or Z3 BoolRefs).
- `torch(xs, a)` computes the ONNX semantics with concrete attributes; returns output tensors.
- `emit(e, a)` writes the ONNX node(s); shape-like operands become constant initializers.

Dtypes come from the ONNX schema of `op_type` at the model's opset (intersected with the dtypes
tensorsmith generates and an optional per-spec `limit`), so per-opset differences are respected.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, ClassVar

import onnx.defs

from fuzzer.spec.draw import Draw
from fuzzer.spec.dtypes import ALL, BY_ONNX_STR, DType
from fuzzer.spec.sym import Cond, Dim


class SpecError(Exception):
    """An expected rejection while instantiating an operator (no valid choice here); try another."""


@dataclass(frozen=True)
class Domain:
    """The values an input may take for the operator to be defined (used to build valid inputs)."""

    lo: float = -3.0
    hi: float = 3.0
    specials: tuple[float, ...] = ()  # values worth sprinkling in (inf, nan, exact halves, ...)

    def meet(self, other: Domain) -> Domain:
        """The narrower of two domains (used when a leaf feeds an op with a restricted domain)."""
        lo, hi = max(self.lo, other.lo), min(self.hi, other.hi)
        if lo >= hi:
            return other
        # a special value survives only inside the narrowed range (NaN and infinities never do)
        specials = tuple(v for v in dict.fromkeys(self.specials + other.specials) if lo <= v <= hi)
        return Domain(lo, hi, specials)


DEFAULT_DOMAIN = Domain()


@dataclass(frozen=True)
class Input:
    """A graph-tensor operand. `tvar` is the ONNX schema's type string (looked up by name if None).

    role "data" may be any existing tensor; role "weight" is a new leaf, made an initializer.
    """

    name: str
    ranks: tuple[int, ...] | None = None
    role: str = "data"
    domain: Domain = DEFAULT_DOMAIN
    tvar: str | None = None


@dataclass(frozen=True)
class TType:
    """A tensor's type: dtype and shape (ints once solved, Z3 expressions while solving)."""

    dtype: DType
    shape: tuple[Dim, ...]

    @property
    def rank(self) -> int:
        return len(self.shape)


class OpSpec:
    """Base class of every operator spec; see the module docstring for the hook contract."""

    op_type: ClassVar[str]
    key: ClassVar[str] = ""  # registry name; defaults to op_type (variants set their own)
    inputs: ClassVar[tuple[Input, ...]] = (Input("X"),)
    arity: ClassVar[tuple[int, int] | None] = None  # variadic: repeat inputs[0] this many times
    n_outputs: ClassVar[int] = 1
    limit: ClassVar[dict[str, frozenset[DType]]] = {}  # tvar -> dtypes further allowed
    min_opset: ClassVar[int] = 1
    max_rank: ClassVar[int | None] = None  # bounds for inputs whose Input.ranks is None
    min_rank: ClassVar[int] = 0
    backward: ClassVar[bool] = False  # can it be inserted to produce an existing placeholder?

    def __init__(self) -> None:
        self._memo: dict = {}

    # --- hooks ----------------------------------------------------------------------------
    def attrs(self, d: Draw, ins: list[TType]) -> dict[str, Any]:
        return {}

    def infer(self, ins: list[TType], a: dict[str, Any]) -> list[tuple[Dim, ...]]:
        return [ins[0].shape]

    def requires(self, ins: list[TType], a: dict[str, Any]) -> list[Cond]:
        return []

    def out_dtypes(self, ins: list[TType], a: dict[str, Any], binding: dict[str, DType], opset: int) -> list[DType]:
        """Output dtypes; by default each output's schema tvar bound by the inputs (or fixed)."""
        out = []
        for tv in self.output_tvars(opset):
            if tv in binding:
                out.append(binding[tv])
            elif tv in BY_ONNX_STR:
                out.append(BY_ONNX_STR[tv])
            else:
                raise NotImplementedError(f"{self.key}: output type {tv} needs out_dtypes()")
        return out

    def finalize(self, rng, ins: list[TType], a: dict[str, Any]) -> dict[str, Any]:
        """Fill value attributes once shapes are concrete (e.g. valid Gather indices).

        `rng` is a numpy Generator derived from the seed; `ins` and `a` are concrete.
        """
        return a

    def torch(self, xs: list, a: dict[str, Any]) -> list:
        raise NotImplementedError

    def emit(self, e, a: dict[str, Any]) -> None:
        e.node(self.op_type, e.inputs, e.outputs, **self.onnx_attrs(a))

    def leaf_rank(self, k: int, ins: list[TType], d: Draw) -> int:
        """Rank of a new leaf created for input k, given inputs 0..k-1 (forward insertion)."""
        allowed = self.ranks_of(k)
        if allowed is not None:
            return d.pick(allowed)
        return ins[0].rank

    def backward_ranks(self, out_rank: int, n_inputs: int, d: Draw) -> list[int] | None:
        """Input ranks that can produce an output of `out_rank`; None if backward is unsupported."""
        return [out_rank] * n_inputs if self.backward else None

    def axes_operand(self, e, inputs: list[str], attrs: dict[str, Any], axes: list[int] | None) -> None:
        """Pass `axes` the way this opset's schema wants: as an int64 input or an attribute."""
        if axes is None:
            return
        if any(f.name == "axes" for f in self.schema(e.opset).inputs):
            inputs.append(e.const(list(axes), hint="axes"))
        else:
            attrs["axes"] = list(axes)

    # --- derived --------------------------------------------------------------------------
    def onnx_attrs(self, a: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in a.items() if not k.startswith("_") and v is not None}

    def ranks_of(self, k: int) -> tuple[int, ...] | None:
        spec = self.inputs[0] if self.arity else self.inputs[k]
        return spec.ranks

    def input_at(self, k: int) -> Input:
        return self.inputs[0] if self.arity else self.inputs[k]

    @classmethod
    def name(cls) -> str:
        return cls.key or cls.op_type

    def schema(self, opset: int):
        return _schema(self.op_type, opset)

    def available(self, opset: int) -> bool:
        return opset >= self.min_opset and self.schema(opset) is not None

    def input_tvar(self, k: int, opset: int) -> str:
        """The schema type string of input k (memoised: the generator asks on every insertion)."""
        key = ("in", k, opset)
        if key not in self._memo:
            self._memo[key] = self._input_tvar(k, opset)
        return self._memo[key]

    def _input_tvar(self, k: int, opset: int) -> str:
        spec = self.input_at(k)
        if spec.tvar:
            return spec.tvar
        sch = self.schema(opset)
        for formal in sch.inputs:
            if formal.name == spec.name:
                return formal.type_str
        if not self.arity and k < len(sch.inputs):
            return sch.inputs[k].type_str
        variadic = [f for f in sch.inputs if f.option == onnx.defs.OpSchema.FormalParameterOption.Variadic]
        if variadic:
            return variadic[0].type_str
        raise KeyError(f"{self.name()}: schema of {self.op_type} has no input {spec.name!r}")

    def output_tvars(self, opset: int) -> list[str]:
        sch = self.schema(opset)
        return [f.type_str for f in sch.outputs][: self.n_outputs]

    def type_set(self, tvar: str, opset: int) -> frozenset[DType]:
        """Dtypes a type variable (or fixed type string) admits at this opset (memoised)."""
        key = ("ts", tvar, opset)
        if key not in self._memo:
            self._memo[key] = self._type_set(tvar, opset)
        return self._memo[key]

    def _type_set(self, tvar: str, opset: int) -> frozenset[DType]:
        if tvar in BY_ONNX_STR:
            return frozenset({BY_ONNX_STR[tvar]})
        sch = self.schema(opset)
        for tc in sch.type_constraints:
            if tc.type_param_str == tvar:
                allowed = frozenset(BY_ONNX_STR[s] for s in tc.allowed_type_strs if s in BY_ONNX_STR)
                return allowed & self.limit.get(tvar, ALL)
        raise KeyError(f"{self.name()}: no type constraint {tvar} in schema of {self.op_type}")


@functools.cache
def _schema(op_type: str, opset: int):
    try:
        return onnx.defs.get_schema(op_type, opset)
    except onnx.defs.SchemaError:
        return None
