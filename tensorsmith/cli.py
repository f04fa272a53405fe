"""The `tensorsmith` command line."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="tensorsmith: find bugs in deep-learning compilers, runtimes and converters by differential fuzzing.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _fail(msg: str) -> None:
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(code=2)


def _split(value: str | None) -> list[str]:
    return [x.strip() for x in value.split(",") if x.strip()] if value else []


def _config(max_nodes: int, opset: int, dtypes: str | None, ops: str | None, exclude_ops: str | None, **kw):
    from fuzzer.generate.config import GenConfig
    from fuzzer.spec import registry
    from fuzzer.spec.dtypes import ALL, DType

    try:
        dts = frozenset(DType.parse(x) for x in _split(dtypes)) if dtypes else ALL
        op_list, ex_list = _split(ops), _split(exclude_ops)
        registry.select(opset, ops=op_list, exclude=ex_list)  # validates the names
        return GenConfig(
            max_nodes=max_nodes, opset=opset, dtypes=dts, ops=tuple(op_list), exclude_ops=tuple(ex_list), **kw
        )
    except ValueError as e:
        _fail(str(e))


@app.command()
def generate(
    out: Annotated[Path, typer.Option("-o", "--out", help="Directory to write one folder per model into.")],
    seed: Annotated[int, typer.Option(help="Seed of the first model; model i uses seed + i.")] = 0,
    count: Annotated[int, typer.Option(min=1, help="How many models to generate.")] = 1,
    max_nodes: Annotated[int, typer.Option(min=1, max=500, help="Operators to insert per model (at most).")] = 10,
    opset: Annotated[int, typer.Option(help="ONNX opset of the models (13-28).")] = 21,
    dtypes: Annotated[str | None, typer.Option(help="Comma-separated dtypes, e.g. float32,int64.")] = None,
    ops: Annotated[str | None, typer.Option(help="Only these operators (names or ONNX op types).")] = None,
    exclude_ops: Annotated[str | None, typer.Option(help="Never these operators.")] = None,
    max_elems: Annotated[int, typer.Option(min=1, help="Largest number of elements in one tensor.")] = 4096,
    check: Annotated[bool, typer.Option(help="Validate each model (ONNX checker and shape inference).")] = True,
) -> None:
    """Generate random valid ONNX models: model.onnx and meta.json per model."""
    from rich.progress import Progress

    from fuzzer.generate.generator import generate as gen
    from fuzzer.generate.output import graph_meta, write_model
    from fuzzer.graph.onnx_io import to_onnx
    from fuzzer.graph.validate import InvalidModel, validate

    cfg = _config(max_nodes, opset, dtypes, ops, exclude_ops, max_elems=max_elems)
    invalid = 0
    with Progress(transient=True) as progress:
        task = progress.add_task("generating", total=count)
        for i in range(count):
            s = seed + i
            try:
                graph, stats = gen(cfg, s)
            except ValueError as e:
                _fail(str(e))
            model = to_onnx(graph)
            if check:
                try:
                    validate(graph, model)
                except InvalidModel as e:
                    invalid += 1
                    typer.echo(f"seed {s}: INVALID model (a tensorsmith bug): {e}", err=True)
            write_model(out / f"seed-{s}", model, graph_meta(graph, s, cfg, stats))
            progress.advance(task)
    typer.echo(f"wrote {count} models to {out}" + (f" ({invalid} invalid)" if invalid else ""))
    if invalid:
        raise typer.Exit(code=1)


def parse_duration(text: str) -> float:
    """Seconds in "90s", "30m", "1h", "1h30m" or a bare number of seconds; ValueError names the value."""
    import re

    text = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", text)
    if not text or not parts:
        raise ValueError(f"invalid duration {text!r}; expected e.g. 90s, 30m, 1h or 1h30m")
    h, m, sec = (int(x or 0) for x in parts.groups())
    return float(h * 3600 + m * 60 + sec)


@app.command()
def fuzz(
    out: Annotated[Path, typer.Option("-o", "--out", help="Campaign directory (state, findings); reused to resume.")],
    backends: Annotated[str, typer.Option(help="Comma-separated backends; NAME or NAME@/path/to/python.")] = (
        "onnxruntime,onnxruntime-opt"
    ),
    time_budget: Annotated[str | None, typer.Option("--time", help="Stop after this long, e.g. 30m, 1h.")] = None,
    tests: Annotated[int | None, typer.Option(min=1, help="Stop after this many tests.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the first test; test i uses seed + i.")] = 0,
    max_nodes: Annotated[int, typer.Option(min=1, max=500, help="Operators per model (at most).")] = 10,
    opset: Annotated[int, typer.Option(help="ONNX opset of the models.")] = 21,
    dtypes: Annotated[str | None, typer.Option(help="Comma-separated dtypes (default: all).")] = None,
    ops: Annotated[str | None, typer.Option(help="Only these operators.")] = None,
    exclude_ops: Annotated[str | None, typer.Option(help="Never these operators.")] = None,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds a backend may take for one model.")] = 60.0,
    mem_mb: Annotated[int, typer.Option(min=64, help="Memory cap of each backend worker, MiB.")] = 4096,
    search_steps: Annotated[int, typer.Option(min=0, help="Input-search steps per model.")] = 100,
    jobs: Annotated[
        int | None,
        typer.Option(min=0, help="Processes making tests ahead (default: one per core; 0: none). Same results."),
    ] = None,
    path: Annotated[
        str, typer.Option(help="onnx (backends run the model) or a converter path: export-dynamo, export-legacy, ...")
    ] = "onnx",
    reduce_time: Annotated[str, typer.Option(help="Reduce each new finding for at most this long (0 = off).")] = "60s",
    server: Annotated[str | None, typer.Option(help="Upload findings to this tensorsmith server URL.")] = None,
    token: Annotated[str | None, typer.Option(help="Worker token of the server (or TENSORSMITH_TOKEN).")] = None,
    campaign_id: Annotated[
        str | None, typer.Option(help="Campaign name on the server (default: --out's name).")
    ] = None,
) -> None:
    """Run a fuzz campaign: generate models, search clean inputs, compare backends, write findings."""
    from oracles.backends.catalog import BackendConfigError, parse_backends
    from tensorsmith.campaign import Campaign, CampaignConfig, CampaignError
    from tensorsmith.progress import live_progress

    try:
        specs = parse_backends(backends)
        time_s = parse_duration(time_budget) if time_budget else None
        reduce_s = parse_duration(reduce_time)
        if path != "onnx":
            from tensorsmith.converter import parse_path

            parse_path(path)
    except (BackendConfigError, ValueError) as e:
        _fail(str(e))
    if time_s is None and tests is None:
        _fail("give a budget: --time (e.g. 1h) or --tests N")
    gen = _config(max_nodes, opset, dtypes, ops, exclude_ops)
    cfg = CampaignConfig(
        backends=tuple(s.name for s in specs),
        out=out,
        seed=seed,
        tests=tests,
        time_s=time_s,
        gen=gen,
        search_steps=search_steps,
        jobs=(os.cpu_count() or 1) if jobs is None else jobs,
        timeout_s=timeout,
        mem_mb=mem_mb,
        path=path,
        reduce_s=reduce_s,
    )
    uploader = None
    if server:
        from tensorsmith.upload import Uploader

        token = token or os.environ.get("TENSORSMITH_TOKEN")
        if not token:
            _fail("--server needs a worker token: --token T or TENSORSMITH_TOKEN")
        uploader = Uploader(server, token, spool_dir=out / "spool", campaign_id=campaign_id or out.resolve().name)
    try:
        campaign = Campaign(cfg, uploader=uploader)
        producer = campaign.start()  # a backend that cannot start fails here, before the display
        with live_progress(campaign):
            stats = campaign.run(producer)
    except CampaignError as e:
        _fail(str(e))
    typer.echo(
        f"{stats.tests} tests, {stats.findings} findings, {stats.nondeterministic} nondeterministic, "
        f"{stats.suspects} blamed on our reference (suspects/), "
        f"{len(stats.gaps)} support gaps, {stats.no_clean_inputs} without clean inputs; state in {out}"
    )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    database_url: Annotated[
        str | None, typer.Option(help="SQLAlchemy URL; default sqlite:///runs/server.sqlite3 (postgresql://... too).")
    ] = None,
    worker_token: Annotated[str | None, typer.Option(help="Token workers must send (generated if omitted).")] = None,
    private: Annotated[bool, typer.Option(help="Require signing in to read the dashboard.")] = False,
) -> None:
    """Run the bug-report server and dashboard (creates or migrates the database schema)."""
    from server.serve import serve as run_server

    run_server(host, port, database_url, worker_token=worker_token, public_read=False if private else None)


@app.command()
def local(
    out: Annotated[Path, typer.Option("-o", "--out", help="Campaign and database directory.")] = Path("runs/local"),
    time_budget: Annotated[str, typer.Option("--time", help="How long to fuzz, e.g. 10m, 1h.")] = "10m",
    backends: Annotated[str, typer.Option(help="Comma-separated backends.")] = "onnxruntime,onnxruntime-opt",
    max_nodes: Annotated[int, typer.Option(min=1, max=500, help="Operators per model (at most).")] = 10,
    port: Annotated[int, typer.Option(min=1, max=65535, help="Dashboard port.")] = 8000,
    seed: Annotated[int, typer.Option(help="Seed of the first test.")] = 0,
    keep_serving: Annotated[bool, typer.Option(help="Keep the dashboard up after the campaign until Ctrl-C.")] = True,
) -> None:
    """The main job: a local fuzz campaign with the dashboard, on an embedded SQLite database."""
    from tensorsmith.local import run_local

    try:
        code = run_local(
            out,
            time_budget=parse_duration(time_budget),
            backends=backends,
            max_nodes=max_nodes,
            port=port,
            seed=seed,
            keep_serving=keep_serving,
        )
    except ValueError as e:
        _fail(str(e))
    raise typer.Exit(code=code)


@app.command()
def check(
    path: Annotated[str, typer.Option(help="export-dynamo, export-legacy, onnx2torch, or onnx (backends only).")] = (
        "export-dynamo"
    ),
    backends: Annotated[str, typer.Option(help="Backends: NAME, NAME@PYTHON or LABEL=NAME.")] = (
        "onnxruntime,onnxruntime-opt"
    ),
    baseline: Annotated[Path | None, typer.Option(help="Baseline of known failures (JSON, committed).")] = None,
    budget: Annotated[str, typer.Option(help="Time budget, e.g. 10m.")] = "10m",
    update_baseline: Annotated[bool, typer.Option(help="Rewrite the baseline with today's verdicts.")] = False,
    out: Annotated[Path, typer.Option("-o", "--out", help="Reports: junit.xml, summary.md, artifacts/.")] = Path(
        "check-out"
    ),
    sizes: Annotated[str, typer.Option(help="Model sizes of the sweep (max_nodes).")] = "1,3,6,10,16,24",
    seeds: Annotated[int, typer.Option(min=0, help="Models per size.")] = 20,
    seed: Annotated[int, typer.Option(help="First seed of the sweep.")] = 0,
    opset: Annotated[int | None, typer.Option(help="ONNX opset (default: the path's).")] = None,
    ops: Annotated[str | None, typer.Option(help="Only these operators.")] = None,
    exclude_ops: Annotated[str | None, typer.Option(help="Never these operators.")] = None,
    dtypes: Annotated[str | None, typer.Option(help="Comma-separated dtypes.")] = None,
    search_steps: Annotated[int, typer.Option(min=0, help="Input-search steps per model.")] = 200,
    corpus: Annotated[list[Path] | None, typer.Option(help="More corpus folders (repeatable).")] = None,
    default_corpus: Annotated[bool, typer.Option(help="Include tensorsmith's own corpus/.")] = True,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds a backend may take for one model.")] = 60.0,
    mem_mb: Annotated[int, typer.Option(min=64, help="Memory cap of each worker, MiB.")] = 4096,
    rerun: Annotated[bool, typer.Option(help="Re-run failures once to tell flaky from real.")] = True,
    reduce_time: Annotated[str, typer.Option(help="Reduction time per new failure (0 = off).")] = "60s",
) -> None:
    """A CI gate: fail (exit 1) when a converter or backend regresses against the committed baseline."""
    from tensorsmith.check import DEFAULT_CORPUS, CheckError, Sweep, run_check

    try:
        sweep = Sweep(
            sizes=tuple(int(x) for x in _split(sizes)),
            seeds=seeds,
            seed=seed,
            opset=opset,
            ops=tuple(_split(ops)),
            exclude_ops=tuple(_split(exclude_ops)),
            dtypes=tuple(_split(dtypes)),
            search_steps=search_steps,
        )
        folders = ([DEFAULT_CORPUS] if default_corpus and DEFAULT_CORPUS.is_dir() else []) + list(corpus or [])
        code = run_check(
            path,
            _split(backends),
            baseline,
            parse_duration(budget),
            update_baseline,
            out,
            sweep=sweep,
            corpus=folders,
            timeout_s=timeout,
            mem_mb=mem_mb,
            rerun=rerun,
            reduce_s=parse_duration(reduce_time),
            log=lambda m: typer.echo(m, err=True),
        )
    except CheckError as e:
        _fail(str(e))
    except ValueError as e:
        _fail(str(e))
    raise typer.Exit(code=code)


@app.command()
def reduce(
    finding: Annotated[Path, typer.Argument(help="A finding folder (OUT/findings/<id>).")],
    deadline: Annotated[str, typer.Option(help="Stop reducing after this long; progress is kept.")] = "60s",
    max_calls: Annotated[int, typer.Option(min=1, help="Backend runs at most.")] = 300,
    force: Annotated[bool, typer.Option(help="Reduce again even if already reduced.")] = False,
) -> None:
    """Shrink a finding to a minimal model that still fails the same way, and name it by its signature."""
    from tensorsmith.reduction import FindingError, reduce_finding

    try:
        r = reduce_finding(finding, deadline_s=parse_duration(deadline), max_calls=max_calls, force=force)
    except (FindingError, ValueError) as e:
        _fail(str(e))
    typer.echo(f"{r.status}: {r.nodes_before} -> {r.nodes_after} nodes in {r.seconds:.1f} s, {r.calls} runs")
    typer.echo(f"title: {r.title}")


@app.command("ops")
def list_ops(
    opset: Annotated[int, typer.Option(help="Show what is available at this opset.")] = 21,
) -> None:
    """List the operators tensorsmith generates, with their input dtypes."""
    from fuzzer.spec import registry

    specs = registry.select(opset)
    for s in specs:
        dts = sorted(d.name for d in s.type_set(s.input_tvar(0, opset), opset)) if s.inputs else []
        typer.echo(f"{s.name():24} {s.op_type:22} {','.join(dts)}")
    typer.echo(f"{len(specs)} operators, {len({s.op_type for s in specs})} ONNX op types at opset {opset}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
