"""Declarative operator specs: dtypes, ranks, attributes, Z3 shape rules, torch semantics."""
