"""The fuzzer: operator specs, the generated graph, the Z3 generator."""
