"""Unary math: Abs, Neg, Exp, Log, Sqrt, ..."""

from __future__ import annotations

import torch

from fuzzer.spec.base import Domain, Input
from fuzzer.spec.families import Unary
from fuzzer.spec.registry import register


@register
class Abs(Unary):
    op_type = "Abs"
    fn = staticmethod(torch.abs)


@register
class Neg(Unary):
    op_type = "Neg"
    fn = staticmethod(torch.neg)


@register
class Exp(Unary):
    op_type = "Exp"
    inputs = (Input("input", domain=Domain(-3, 3)),)
    fn = staticmethod(torch.exp)


@register
class Log(Unary):
    op_type = "Log"
    inputs = (Input("input", domain=Domain(0.1, 4)),)
    fn = staticmethod(torch.log)
