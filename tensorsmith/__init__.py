"""tensorsmith: differential fuzzing of deep-learning compilers, runtimes and converters."""

__version__ = "0.1.0"
