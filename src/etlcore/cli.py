"""The `etlcore` command: `run` a pipeline over files, list and explain `ops`."""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from typing import Any

import orjson

from etlcore.errors import EtlError
from etlcore.registry import CONTRACT, STAGES, by_stage, operators
from etlcore.report import DONE, TERMINATED
from etlcore.runner import run

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def default_config() -> dict[str, Any]:
    """The embedded default config: the seed's own operationsV2 (`etlcore/defaults/operations.json`),
    less the operators this version does not implement yet, which are named on stderr."""
    seed = orjson.loads(resources.files("etlcore").joinpath("defaults/operations.json").read_bytes())
    known = operators()
    missing = [e["name"] for entries in seed.values() for e in entries
               if e["name"] not in known and not e["name"].startswith("save_pipeline_")]
    if missing:
        sys.stderr.write(f"etlcore: default config: skipping operators not implemented yet: {', '.join(missing)}\n")
    return {stage: [e for e in entries if e["name"] in known or e["name"].startswith("save_pipeline_")]
            for stage, entries in seed.items()}


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="etlcore", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run_cmd = commands.add_parser("run", help="run a pipeline over JSONL/Parquet/txt inputs")
    run_cmd.add_argument("inputs", nargs="+", metavar="INPUT", help="file, folder or glob")
    run_cmd.add_argument("--config", help="operationsV2 JSON (or a Qianfan detail / ModelArts body holding "
                                          "one); default: the embedded default config")
    run_cmd.add_argument("--output", required=True, help="OUT.jsonl[.gz|.zst] or OUT.parquet")
    run_cmd.add_argument("--work-dir", help="where result.json, rejects.jsonl, invalid.jsonl and logs go "
                                            "(default: OUTPUT.etlcore/)")
    run_cmd.add_argument("--text-column", default="text")
    run_cmd.add_argument("--id-column", default="id")
    run_cmd.add_argument("--batch-size", type=_positive, default=10_000, help="rows per Arrow batch")
    run_cmd.add_argument("--max-line-bytes", type=_positive, default=16 * 1024 * 1024,
                         help="longer input lines go to the invalid file")
    run_cmd.add_argument("--workers", type=_positive, default=None,
                         help="processes for the per-document stages (default: every core for inputs of 32 MB "
                              "or more, else 1; 1 = in this process, for debugging)")
    run_cmd.add_argument("--engine", choices=["local", "ray"], default="local")
    run_cmd.add_argument("--quiet", action="store_true", help="no summary line on stderr")

    ops_cmd = commands.add_parser("ops", help="list operators by stage, or show one")
    ops_cmd.add_argument("name", nargs="?")
    ops_cmd.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args) if args.command == "run" else _ops(args)
    except EtlError as exc:
        sys.stderr.write(orjson.dumps(exc.to_json()).decode() + "\n")
        return EXIT_USAGE


def _run(args: argparse.Namespace) -> int:
    if args.engine == "ray":
        raise EtlError("--engine ray is not available in this version of etlcore yet; use --engine local")
    response = run(args.config or default_config(), args.inputs, args.output, work_dir=args.work_dir,
                   text_column=args.text_column, id_column=args.id_column, batch_size=args.batch_size,
                   max_line_bytes=args.max_line_bytes, workers=args.workers, quiet=args.quiet)
    sys.stdout.write(orjson.dumps(response, option=orjson.OPT_INDENT_2).decode() + "\n")
    status = response["result"]["processStatus"]
    return EXIT_OK if status == DONE else EXIT_INTERRUPTED if status == TERMINATED else EXIT_FAILED


def _describe(cls: type) -> dict[str, Any]:
    return {
        "name": cls.name, "stage": cls.stage, "kind": cls.__mro__[1].__name__, "rule": cls.rule(),
        "args": [{"name": a.name, "allowed": a.allowed(), "required": a.required, "default": a.default,
                  "doc": a.doc} for a in cls.args],
    }


def _ops(args: argparse.Namespace) -> int:
    known = operators()
    if args.name:
        cls = known.get(args.name)
        if cls is None:
            if args.name in CONTRACT:
                raise EtlError(f"operator '{args.name}' is part of the contract but not implemented yet")
            raise EtlError(f"unknown operator '{args.name}'; valid names: {', '.join(sorted(known))}")
        info = _describe(cls)
        if args.json:
            print(orjson.dumps(info, option=orjson.OPT_INDENT_2).decode())
            return EXIT_OK
        print(f"{info['name']}  ({info['kind']}, stage {info['stage']})\n")
        print(info["rule"] + "\n")
        if not info["args"]:
            print("args: none")
        for arg in info["args"]:
            need = "required" if arg["required"] else f"optional, default {arg['default']!r}"
            print(f"  {arg['name']}: {arg['allowed']}; {need}. {arg['doc']}")
        return EXIT_OK
    staged = by_stage()
    pending = {stage: sorted(n for n, s in CONTRACT.items() if s == stage and n not in known) for stage in STAGES}
    if args.json:
        print(orjson.dumps({s: [_describe(c) for c in staged[s]] for s in STAGES}, option=orjson.OPT_INDENT_2)
              .decode())
        return EXIT_OK
    for stage in STAGES:
        print(stage)
        for cls in staged[stage]:
            summary = " ".join(cls.rule().split())
            summary = summary[: summary.find(". ") + 1 or None]
            print(f"  {cls.name:<42} {summary}")
        if pending[stage]:
            print(f"  not implemented yet: {', '.join(pending[stage])}")
    return EXIT_OK
