"""NNSmith 0.1.0 side of the generator benchmark: run with bench/.venv-nnsmith/bin/python (see nnsmith_env.sh).

For each max_nodes and seeds 0..N-1 it makes a model the way NNSmith's `model_gen` CLI and fuzz loop do
(`model_gen` with the symbolic-cinit Z3 generator, `make_concrete`, `ONNXModel.from_gir`, `torch2onnx`) and
times graph generation + export to ONNX bytes. Validity (onnx.checker full_check) is measured outside the
timed span; so is, unless --no-loop, the rest of the fuzz loop's `make_testcase` (input search, re-export with
full check, oracle run), reported apart as `median_loop_s`. Prints one JSON object to stdout.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
import warnings

from benchlib import Span, Z3Clock, describe, single_thread_env, summarize

single_thread_env()
# keep NNSmith's op-set cache (appdirs' user_cache_dir) inside the venv, not in ~/.cache
os.environ.setdefault("XDG_CACHE_HOME", os.path.join(sys.prefix, "cache"))

import onnx  # noqa: E402
import torch  # noqa: E402
import z3  # noqa: E402

MGEN_DEFAULTS = {"method": "symbolic-cinit", "timeout_ms": 10000, "max_elem_per_tensor": 2**16}
WARMUP_SEED = 10**6


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="5,10,20,30", help="comma-separated max_nodes values")
    p.add_argument("--count", type=int, default=200, help="models per size (seeds 0..count-1)")
    p.add_argument("--backend", default="onnxruntime", help="backend whose op/dtype set NNSmith uses, or 'none'")
    p.add_argument("--no-loop", action="store_true", help="skip timing the rest of the fuzz loop's make_testcase")
    p.add_argument("--keep-lists", action="store_true", help="also list the distinct op types and op-type pairs")
    return p.parse_args(argv)


def load_opset(backend: str):
    """The ONNX model type and op set, as NNSmith's CLI computes them (cached after the first run)."""
    from nnsmith.abstract.extension import activate_ext
    from nnsmith.backends.factory import BackendFactory
    from nnsmith.materialize import Model
    from nnsmith.narrow_spec import auto_opset

    model_type = Model.init("onnx", backend_target="cpu")
    model_type.add_seed_setter()
    factory = None if backend == "none" else BackendFactory.init(backend, target="cpu", optmax=True)
    for attempt in range(5):  # building the cache probes every op at random; it sometimes trips an assertion
        try:
            opset = auto_opset(model_type, factory, vulops=False)
            break
        except Exception:
            if attempt == 4:
                raise
    activate_ext(opset=opset, factory=factory)
    return model_type, opset


def make_model(model_type, opset, max_nodes: int, seed: int, clock: Z3Clock, loop: bool) -> tuple[bytes, dict]:
    """One model's ONNX bytes and its timings: generation, export, Z3 and (if `loop`) the fuzz loop's extra work."""
    from nnsmith.graph_gen import model_gen
    from nnsmith.materialize.onnx import torch2onnx

    with Span(clock) as span:
        gen = model_gen(opset=opset, seed=seed, max_nodes=max_nodes, **MGEN_DEFAULTS)
        model = model_type.from_gir(gen.make_concrete())
        gen_seconds = span.elapsed()
        buf = io.BytesIO()
        torch2onnx(model.torch_model, buf)
        data = buf.getvalue()
    times = {"gen_seconds": gen_seconds, **span.times}
    if loop:  # the rest of FuzzingLoop.make_testcase: input search, re-export + full check, oracle run
        t0 = time.perf_counter()
        model.refine_weights()
        model.make_oracle()
        times["loop_seconds"] = gen_seconds + time.perf_counter() - t0
    return data, times


def check(data: bytes) -> tuple[onnx.ModelProto, str]:
    """The model and "" if the ONNX bytes pass onnx.checker with full_check, else the error."""
    model = onnx.load_model_from_string(data)
    try:
        onnx.checker.check_model(model, full_check=True)
        return model, ""
    except Exception as e:  # noqa: BLE001 - any failure makes the model invalid
        return model, f"check: {type(e).__name__}: {str(e)[:200]}"


def run_one(model_type, opset, max_nodes: int, seed: int, clock: Z3Clock, loop: bool) -> dict:
    """Generate one model and describe it (or its failure)."""
    try:
        data, times = make_model(model_type, opset, max_nodes, seed, clock, loop)
    except Exception as e:  # noqa: BLE001 - a generation failure is a result, not a crash
        return {"seed": seed, "ok": False, "error": f"generate: {type(e).__name__}: {str(e)[:200]}"}
    model, err = check(data)
    return {"seed": seed, "ok": True, "valid": not err, "error": err, **times, **describe(model)}


def run_size(model_type, opset, size: int, args, clock: Z3Clock) -> dict:
    """Summary of `args.count` models at one max_nodes."""
    loop = not args.no_loop
    recs = [run_one(model_type, opset, size, seed, clock, loop) for seed in range(args.count)]
    out = summarize(recs, args.keep_lists)
    done = [r for r in recs if r["ok"]]
    out["median_gen_s"] = statistics.median(r["gen_seconds"] for r in done) if done else None
    out["median_loop_s"] = statistics.median(r["loop_seconds"] for r in done) if done and loop else None
    return out


def main(argv: list[str] | None = None) -> None:
    """Benchmark every requested size and print the JSON result."""
    args = parse_args(argv)
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    clock = Z3Clock()
    t0 = time.perf_counter()
    model_type, opset = load_opset(args.backend)
    run_one(model_type, opset, 5, WARMUP_SEED, clock, not args.no_loop)  # first export imports a lot
    result = {
        "tool": "nnsmith",
        "versions": {"torch": torch.__version__, "onnx": onnx.__version__, "z3": z3.get_version_string()},
        "backend": args.backend,
        "n_opset": len(opset),
        "setup_seconds": time.perf_counter() - t0,
        "mgen": MGEN_DEFAULTS,
        "threads": torch.get_num_threads(),
        "sizes": {},
    }
    for size in [int(s) for s in args.sizes.split(",")]:
        result["sizes"][str(size)] = run_size(model_type, opset, size, args, clock)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
