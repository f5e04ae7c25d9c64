"""The `etlcore` command: `run` a pipeline over files, list and explain `ops`."""

from __future__ import annotations

import argparse
import os
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

from etlcore.errors import EtlError
from etlcore.registry import CONTRACT, STAGES, by_stage, operators
from etlcore.report import DONE, TERMINATED
from etlcore.runner import run

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143  # 128 + SIGINT, 128 + SIGTERM, as a shell reports them


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


def _port(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be in [1, 65535], got {value}")
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
    _add_engine_arguments(run_cmd)
    run_cmd.add_argument("--quiet", action="store_true", help="no summary line on stderr")

    analyse_cmd = commands.add_parser("analyse", help="every filter statistic per document, and an HTML report")
    analyse_cmd.add_argument("inputs", nargs="+", metavar="INPUT")
    analyse_cmd.add_argument("--report", required=True, metavar="DIR",
                             help="writes report.html, summary.json, statistics.parquet here")
    analyse_cmd.add_argument("--config", help="whose filters, args and cutoffs to use (default: the embedded "
                                              "default config)")
    analyse_cmd.add_argument("--text-column", default="text")
    analyse_cmd.add_argument("--id-column", default="id")

    task_cmd = commands.add_parser("task", help="ModelArts-style tasks: create, run, detail, list, stop")
    task_cmd.add_argument("--store", default=".etlcore/tasks.sqlite",
                          help="the task store (default: .etlcore/tasks.sqlite in the current folder)")
    task_cmd.add_argument("--allow-root", help="every path a task names must lie inside this folder (default: "
                                               "for create, the current folder; for run, the one it was created under)")
    actions = task_cmd.add_subparsers(dest="action", required=True)
    create_cmd = actions.add_parser("create", help="create a task from a create-processor-task body")
    create_cmd.add_argument("body", metavar="BODY.json")
    create_cmd.add_argument("--run", action="store_true", help="run it at once")
    for action in ("run", "detail", "stop"):
        sub = actions.add_parser(action, help=f"{action} a task")
        sub.add_argument("task_id", metavar="ID")
    for sub in (create_cmd, actions.choices["run"]):
        sub.add_argument("--workers", type=_positive, default=None)
        _add_engine_arguments(sub)
    list_cmd = actions.add_parser("list", help="all tasks")
    list_cmd.add_argument("--json", action="store_true")

    dataset_cmd = commands.add_parser("dataset", help="dataset versions registered by tasks")
    dataset_actions = dataset_cmd.add_subparsers(dest="action", required=True)
    versions_cmd = dataset_actions.add_parser("versions", help="the versions of a work-path dataset")
    versions_cmd.add_argument("path")
    versions_cmd.add_argument("--store", default=".etlcore/tasks.sqlite")
    versions_cmd.add_argument("--json", action="store_true")

    serve_cmd = commands.add_parser("serve", help="the Qianfan and ModelArts task APIs and a web console over the "
                                                  "task store (pip install 'etlcore[server]')")
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=_port, default=8765)
    serve_cmd.add_argument("--store", default=".etlcore/tasks.sqlite", help="the task store `etlcore task` uses")
    serve_cmd.add_argument("--allow-root", default=".", help="every path in a request must lie inside this folder "
                                                            "(default: the current folder)")
    serve_cmd.add_argument("--max-running", type=_positive, default=1, help="tasks running at once; others wait")
    serve_cmd.add_argument("--credentials", metavar="FILE", help="JSON map of access key to secret key (or to "
                                                                 "{\"secret_key\", \"project_ids\"}), mode 600; "
                                                                 "default: ETLCORE_ACCESS_KEY/ETLCORE_SECRET_KEY")
    serve_cmd.add_argument("--no-auth", action="store_true", help="no authentication (loopback hosts only)")

    ops_cmd = commands.add_parser("ops", help="list operators by stage, or show one")
    ops_cmd.add_argument("name", nargs="?")
    ops_cmd.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def _add_engine_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("--engine", choices=["local", "ray"], default="local",
                         help="local: processes on this machine; ray: actors on a Ray cluster (pip install "
                              "'etlcore[ray]'); the same output and result")
    command.add_argument("--ray-address", help="with --engine ray: the cluster to join ('auto', 'HOST:6379' or "
                                               "'ray://HOST:10001'; default: start a local Ray)")


def _engine_options(args: argparse.Namespace) -> dict[str, Any]:
    if args.ray_address and args.engine != "ray":
        raise EtlError("--ray-address needs --engine ray")
    return {"workers": args.workers, "engine": args.engine, "ray_address": args.ray_address}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return {"run": _run, "ops": _ops, "task": _task, "dataset": _dataset, "analyse": _analyse,
                "serve": _serve}[args.command](args)
    except EtlError as exc:
        sys.stderr.write(orjson.dumps(exc.to_json()).decode() + "\n")
        return EXIT_USAGE
    except KeyboardInterrupt:  # Ctrl-C outside a run's own handling: while models load, say
        sys.stderr.write("etlcore: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # stdout closed early (`etlcore task list | head`): nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so that exiting does not fail again
        return EXIT_OK
    except OSError as exc:  # a path given that cannot be read or written, before any work started
        where = f": {exc.filename}" if exc.filename else ""
        sys.stderr.write(orjson.dumps(EtlError(f"{exc.strerror or exc}{where}").to_json()).decode() + "\n")
        return EXIT_USAGE


def _run(args: argparse.Namespace) -> int:
    response = run(args.config or default_config(), args.inputs, args.output, work_dir=args.work_dir,
                   text_column=args.text_column, id_column=args.id_column, batch_size=args.batch_size,
                   max_line_bytes=args.max_line_bytes, quiet=args.quiet, **_engine_options(args))
    _print_json(response)
    return _exit_code(response)


def _print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def _exit_code(response: dict[str, Any]) -> int:
    status = response["result"]["processStatus"]
    if status == TERMINATED:
        return EXIT_TERMINATED if response.get("etlcore", {}).get("stopped_by") == "SIGTERM" else EXIT_INTERRUPTED
    return EXIT_OK if status == DONE else EXIT_FAILED


def _analyse(args: argparse.Namespace) -> int:
    from etlcore.analysis import analyse
    from etlcore.config import load_config

    config = load_config(args.config).operations if args.config else default_config()
    summary = analyse(config, args.inputs, Path(args.report), text_column=args.text_column,
                      id_column=args.id_column)
    print(f"etlcore: {summary['documents']:,} documents analysed; report: {Path(args.report) / 'report.html'}",
          file=sys.stderr)
    return EXIT_OK


def _task(args: argparse.Namespace) -> int:
    from etlcore.tasks import service
    from etlcore.tasks.store import TaskStore

    store = TaskStore(Path(args.store))
    if args.action == "create":
        try:
            body = orjson.loads(Path(args.body).read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise EtlError(f"cannot read the task body {args.body}: {exc}") from None
        options = _engine_options(args)  # refused before the task is created
        if not args.run and (args.workers or args.engine != "local"):
            raise EtlError("--workers and --engine apply to a run: add --run, or give them to task run")
        task_id = service.create(store, body, Path(args.allow_root or "."), default_config())
        _print_json({"task_id": task_id})
        return _exit_code(service.run_task(store, task_id, **options)) if args.run else EXIT_OK
    if args.action == "run":
        response = service.run_task(store, args.task_id, allowed_root=args.allow_root and Path(args.allow_root),
                                    **_engine_options(args))
        _print_json(response)
        return _exit_code(response)
    if args.action == "detail":
        _print_json(service.detail(store, args.task_id))
    elif args.action == "stop":
        _print_json({"task_id": args.task_id, "processStatus": service.stop(store, args.task_id)})
    else:
        tasks = service.listing(store)
        if args.json:
            _print_json(tasks)
        else:
            print(f"{'task_id':<22}{'template':<22}{'status':>7}{'input':>10}{'output':>10}  name")
            for t in tasks:
                print(f"{t['task_id']:<22}{t['template']:<22}{t['status']:>7}{t['input_rows'] or 0:>10}"
                      f"{t['output_rows'] or 0:>10}  {t['name']}")
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    from etlcore.server.main import serve

    return serve(args.host, args.port, args.store, args.allow_root, args.max_running, args.credentials,
                 args.no_auth, default_config())


def _dataset(args: argparse.Namespace) -> int:
    from etlcore.tasks.store import TaskStore

    versions = TaskStore(Path(args.store)).versions(str(Path(args.path).resolve()))
    if args.json:
        _print_json(versions)
    else:
        for v in versions:
            print(f"{v['version']}  {v['task_id']}  {v['output_rows']:>10} rows  {v['output']}")
    return EXIT_OK


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
