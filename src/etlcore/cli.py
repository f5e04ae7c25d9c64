"""The `etlcore` command: `run` a pipeline over files, `analyse` their filter statistics, ModelArts-style
`task`s and their `dataset` versions, `serve` the task APIs and a web console, list and explain `ops`."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import difflib
import os
import re
import sys
import threading
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn

import orjson

from etlcore import __version__
from etlcore.config import SAVE_PREFIX, image_problem
from etlcore.errors import EtlError
from etlcore.io.paths import check_creatable
from etlcore.registry import CONTRACT, STAGES, by_stage, operators
from etlcore.report import DONE, TERMINATED
from etlcore.runner import report_on_stderr, run

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
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be in [1, 65535], got {value}")
    return value


TEXT_COLUMN_HELP = "the field of each row that holds the text to clean (default: text)"
ID_COLUMN_HELP = ("the field of each row that holds its id, written to the output, rejects and invalid files "
                  "(default: id; a row without one gets FILE:LINE)")
WORKERS_HELP = ("processes for the per-document stages (default: every core for inputs of 32 MB or more, else 1; "
                "1 also when every operator is light: replace_upper2lower, cut, replace_uniform_whitespace; "
                "1 = in this process, for debugging; with --engine ray, Ray actors, default every CPU of the cluster)")
STORE_HELP = "the task store (default: .etlcore/tasks.sqlite in the current folder)"
ALLOW_ROOT_HELP = ("every path a task names must lie inside this folder (default: for create, the current folder; "
                   "for run, the one it was created under)")


class _Parser(argparse.ArgumentParser):
    """argparse, with a wrong argument said as every other user error is: one JSON line on stderr, exit 2."""

    def error(self, message: str) -> NoReturn:
        error = EtlError(f"{self.prog}: {message} (see {self.prog} --help)")
        sys.stderr.write(orjson.dumps(error.to_json()).decode() + "\n")
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="etlcore", description=__doc__)
    parser.add_argument("--version", action="version", version=f"etlcore {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, title="commands", metavar="COMMAND")

    run_cmd = commands.add_parser("run", help="run a pipeline over JSONL/Parquet/txt inputs")
    run_cmd.add_argument("inputs", nargs="+", metavar="INPUT", help="file, folder or glob")
    run_cmd.add_argument("--config", help="operationsV2 JSON (or a Qianfan detail / ModelArts body holding "
                                          "one); default: the embedded default config")
    run_cmd.add_argument("--output", required=True, help="OUT.jsonl[.gz|.zst] or OUT.parquet")
    run_cmd.add_argument("--work-dir", help="where result.json, rejects.jsonl, invalid.jsonl and logs go "
                                            "(default: OUTPUT.etlcore/)")
    run_cmd.add_argument("--text-column", default="text", help=TEXT_COLUMN_HELP)
    run_cmd.add_argument("--id-column", default="id", help=ID_COLUMN_HELP)
    run_cmd.add_argument("--batch-size", type=_positive, default=10_000, help="rows per Arrow batch")
    run_cmd.add_argument("--max-line-bytes", type=_positive, default=16 * 1024 * 1024,
                         help="longer input lines go to the invalid file")
    run_cmd.add_argument("--workers", type=_positive, default=None, help=WORKERS_HELP)
    _add_engine_arguments(run_cmd)
    run_cmd.add_argument("--quiet", action="store_true",
                         help="no progress, resume or summary line on stderr (the accounting line and a failure's "
                              "reason stay)")

    analyse_cmd = commands.add_parser("analyse", help="every filter statistic per document, and an HTML report")
    analyse_cmd.add_argument("inputs", nargs="+", metavar="INPUT")
    analyse_cmd.add_argument("--report", required=True, metavar="DIR",
                             help="writes report.html, summary.json, statistics.parquet here")
    analyse_cmd.add_argument("--config", help="whose filters, args and cutoffs to use (default: the embedded "
                                              "default config)")
    analyse_cmd.add_argument("--text-column", default="text", help=TEXT_COLUMN_HELP)
    analyse_cmd.add_argument("--id-column", default="id", help=ID_COLUMN_HELP)

    task_cmd = commands.add_parser("task", help="ModelArts-style tasks: create, run, detail, list, stop")
    task_cmd.add_argument("--store", default=".etlcore/tasks.sqlite", help=STORE_HELP)
    task_cmd.add_argument("--allow-root", help=ALLOW_ROOT_HELP)
    # The same options after the action too (`etlcore task list --store S`); given there, they win.
    store_options = argparse.ArgumentParser(add_help=False)
    store_options.add_argument("--store", default=argparse.SUPPRESS, help=STORE_HELP)
    store_options.add_argument("--allow-root", default=argparse.SUPPRESS, help=ALLOW_ROOT_HELP)
    actions = task_cmd.add_subparsers(dest="action", required=True, title="actions", metavar="ACTION")
    create_cmd = actions.add_parser("create", parents=[store_options],
                                    help="create a task from a create-processor-task body")
    create_cmd.add_argument("body", metavar="BODY.json")
    create_cmd.add_argument("--run", action="store_true", help="run it at once")
    for action, what in (("run", "run a task (after a stop: resume it from its checkpoints)"),
                         ("detail", "a task's detail response"), ("stop", "stop a running task, as Ctrl-C does")):
        sub = actions.add_parser(action, parents=[store_options], help=what)
        sub.add_argument("task_id", metavar="ID")
    for sub in (create_cmd, actions.choices["run"]):
        sub.add_argument("--workers", type=_positive, default=None, help=WORKERS_HELP + "; with create, needs --run")
        _add_engine_arguments(sub)
    list_cmd = actions.add_parser("list", parents=[store_options], help="all tasks: status, creation time, rows")
    list_cmd.add_argument("--json", action="store_true", help="machine-readable output")

    dataset_cmd = commands.add_parser("dataset", help="dataset versions registered by tasks")
    dataset_actions = dataset_cmd.add_subparsers(dest="action", required=True, title="actions", metavar="ACTION")
    versions_cmd = dataset_actions.add_parser("versions", help="the versions of a work-path dataset")
    versions_cmd.add_argument("path")
    versions_cmd.add_argument("--store", default=".etlcore/tasks.sqlite", help=STORE_HELP)
    versions_cmd.add_argument("--json", action="store_true", help="machine-readable output")

    serve_cmd = commands.add_parser("serve", help="the Qianfan and ModelArts task APIs and a web console over the "
                                                  "task store (pip install 'etlcore[server]')")
    serve_cmd.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: 127.0.0.1)")
    serve_cmd.add_argument("--port", type=_port, default=8765, help="the port to listen on (default: 8765)")
    serve_cmd.add_argument("--store", default=".etlcore/tasks.sqlite", help="the task store `etlcore task` uses")
    serve_cmd.add_argument("--allow-root", default=".", help="every path in a request must lie inside this folder "
                                                            "(default: the current folder)")
    serve_cmd.add_argument("--max-running", type=_positive, default=1, help="tasks running at once; others wait")
    serve_cmd.add_argument("--credentials", metavar="FILE", help="JSON map of access key to secret key (or to "
                                                                 "{\"secret_key\", \"project_ids\"}), mode 600; "
                                                                 "default: ETLCORE_ACCESS_KEY/ETLCORE_SECRET_KEY")
    serve_cmd.add_argument("--no-auth", action="store_true", help="no authentication (loopback hosts only)")

    ops_cmd = commands.add_parser("ops", help="list operators by stage with their args, or show one")
    ops_cmd.add_argument("name", nargs="?", help="an operator, or a checkpoint marker save_pipeline_<stage>")
    ops_cmd.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def _add_engine_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("--engine", choices=["local", "ray"], default="local",
                         help="local: processes on this machine; ray: actors on a Ray cluster (pip install "
                              "'etlcore[ray]'); the same output and result")
    command.add_argument("--ray-address", help="with --engine ray: the cluster to join ('auto', 'HOST:6379' or "
                                               "'ray://HOST:10001'; default: start a local Ray)")
    command.add_argument("--keep-checkpoints", action="store_true",
                         help="keep the save_pipeline_<stage> checkpoints after a successful run (a stopped or "
                              "failed run always keeps them, to resume from)")


def _engine_options(args: argparse.Namespace) -> dict[str, Any]:
    if args.ray_address and args.engine != "ray":
        raise EtlError("--ray-address needs --engine ray")
    return {"workers": args.workers, "engine": args.engine, "ray_address": args.ray_address,
            "keep_checkpoints": args.keep_checkpoints}


def entry() -> NoReturn:
    """The `etlcore` command: `main`, then the exit handlers (Ray's, multiprocessing's), then an exit that
    skips tearing the interpreter down. Everything a command writes is committed and closed before `main`
    returns; what the teardown would do is free every module, model and compiled kernel one object at a
    time, which took 0.4-0.6 s of every run. Beside a thread still running (none should be), a normal exit."""
    code = main()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError):  # closed early (`| head`): nothing more to say there, as in `main`
            stream.flush()
    if threading.active_count() == 1:
        os._exit(code)
    sys.exit(code)


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
        _silence_stdout()
        return EXIT_OK
    except OSError as exc:  # a path given that cannot be read or written, before any work started
        where = f": {exc.filename}" if exc.filename else ""
        sys.stderr.write(orjson.dumps(EtlError(f"{exc.strerror or exc}{where}").to_json()).decode() + "\n")
        return EXIT_USAGE


def _run(args: argparse.Namespace) -> int:
    response = run(args.config or default_config(), args.inputs, args.output, work_dir=args.work_dir,
                   text_column=args.text_column, id_column=args.id_column, batch_size=args.batch_size,
                   max_line_bytes=args.max_line_bytes, quiet=args.quiet, **_engine_options(args))
    if args.quiet:  # the run printed nothing: the accounting line (and a failure's reason) still belong here
        report_on_stderr(response, summary=False)
    return _print_run(response)


def _print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def _print_run(response: dict[str, Any]) -> int:
    """Print a run's result JSON; the exit code is the run's, even when stdout's reader is gone."""
    try:
        _print_json(response)
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
    return _exit_code(response)


def _silence_stdout() -> None:
    """After stdout's reader went away: what is still buffered for it, and any later write, go nowhere
    (exiting would otherwise fail again flushing it)."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


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
    from etlcore.tasks.store import StoreMissing, TaskStore

    if args.action == "create":
        try:
            body = orjson.loads(Path(args.body).read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise EtlError(f"cannot read the task body {args.body}: {exc}") from None
        options = _engine_options(args)  # refused before the task is created
        if not args.run and (args.workers or args.engine != "local" or args.keep_checkpoints):
            raise EtlError("--workers, --engine and --keep-checkpoints apply to a run: add --run, or give them to "
                           "task run")
        check_creatable(Path(args.store), "task store", folder=False)
        task = service.validated(body, Path(args.allow_root or "."), default_config())  # before a store is made
        store = TaskStore(Path(args.store))  # the one command that makes a store
        task_id = service.add(store, task)
        if not args.run:
            _print_json({"task_id": task_id})
            return EXIT_OK
        # One JSON document on stdout, the run's detail (its result.etlTaskId is the task's id); the id
        # goes to stderr first, so that a run stopped halfway can still be resumed by it.
        print(f"etlcore: created {task_id}; running it", file=sys.stderr)
        return _report_task_run(service.run_task(store, task_id, **options))
    try:  # every other action reads: a store that does not exist is not created for it
        store = TaskStore(Path(args.store), create=False)
    except StoreMissing as missing:
        if args.action != "list":
            raise EtlError(f"no task with id {args.task_id!r}: {missing.message}", code="TaskNotFound") from None
        if args.json:
            _print_json([])
        else:
            print(f"etlcore: no tasks: {missing.message}", file=sys.stderr)
        return EXIT_OK
    if args.action == "run":
        return _report_task_run(service.run_task(store, args.task_id, **_engine_options(args),
                                                 allowed_root=args.allow_root and Path(args.allow_root)))
    if args.action == "detail":
        _print_json(service.detail(store, args.task_id))
    elif args.action == "stop":
        _print_json({"task_id": args.task_id, "processStatus": service.stop(store, args.task_id)})
    else:
        _print_tasks(service.listing(store), args.json)
    return EXIT_OK


def _print_tasks(tasks: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        _print_json(tasks)
        return

    def rows(count: int | None) -> str:
        return "-" if count is None else f"{count:,}"

    print(f"{'task_id':<22}{'template':<22}{'status':<13}{'created':<27}{'input':>10}{'output':>10}{'runs':>5}  name")
    for t in tasks:
        print(f"{t['task_id']:<22}{t['template']:<22}{t['status_text']:<13}{t['created']:<27}"
              f"{rows(t['input_rows']):>10}{rows(t['output_rows']):>10}{t['runs']:>5}  {t['name']}")


def _report_task_run(response: dict[str, Any]) -> int:
    report_on_stderr(response)  # a task runs quietly, as a library call does
    return _print_run(response)


def _serve(args: argparse.Namespace) -> int:
    from etlcore.server.main import serve

    return serve(args.host, args.port, args.store, args.allow_root, args.max_running, args.credentials,
                 args.no_auth, default_config())


def _dataset(args: argparse.Namespace) -> int:
    from etlcore.tasks.store import StoreMissing, TaskStore

    store, path = Path(args.store), str(Path(args.path).resolve())
    try:  # a read: a store that does not exist has no versions, and is not created
        versions, why_none = TaskStore(store, create=False).versions(path), "no task has registered one"
    except StoreMissing as missing:
        versions, why_none = [], missing.message
    if args.json:
        _print_json(versions)
    elif not versions:
        print(f"etlcore: no versions of {path}: {why_none}", file=sys.stderr)
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


def summary(rule: str, longest: int = 100) -> str:
    """The first sentence of an operator's rule, for the list: up to the first full stop that ends a
    sentence (not the one of "i.e." or "e.g."), or the colon that opens a list of cases; a sentence
    longer than `longest` characters ends at its first colon outside parentheses (after a "Legacy:")."""
    text = " ".join(rule.split("\n- ")[0].split())
    end = re.search(r"(?<!\bi\.e)(?<!\be\.g)(?<!\betc)\.(?=\s|$)", text)
    sentence = (text if end is None else text[: end.start()]).rstrip(":")
    if len(sentence) > longest:
        depth, start = 0, len("Legacy:") if sentence.startswith("Legacy:") else 0
        for position in range(start, len(sentence)):
            depth += {"(": 1, ")": -1}.get(sentence[position], 0)
            if sentence[position] == ":" and depth == 0:
                sentence = sentence[:position]
                break
    return sentence + "."


def _arg_words(arg: dict[str, Any]) -> str:
    need = "required" if arg["required"] else f"default {_json_value(arg['default'])}"
    return f"{arg['name']} ({arg['allowed']}; {need})"


def _json_value(value: Any) -> str:
    return orjson.dumps(value).decode()


SAVE_MARKER_RULE = ("Not an operator: a checkpoint marker. As the last entry of stage '{stage}' it saves what "
                    "came out of that stage in the work dir (checkpoints/{stage}/: the documents, rejects and "
                    "invalid rows so far, and the counts); running the same command again after a crash or a "
                    "stop resumes after it, as long as the stage's operators, those before and the inputs are "
                    "unchanged.")


def _ops(args: argparse.Namespace) -> int:
    known = operators()
    if args.name:
        info = _describe_name(args.name, known)
        if args.json:
            print(orjson.dumps(info, option=orjson.OPT_INDENT_2).decode())
            return EXIT_OK
        print(f"{info['name']}  ({info['kind']}, stage {info['stage']})\n")
        print(info["rule"] + "\n")
        if not info["args"]:
            print("args: none")
        for arg in info["args"]:
            need = "required" if arg["required"] else f"optional, default {_json_value(arg['default'])}"
            print(f"  {arg['name']}: {arg['allowed']}; {need}. {arg['doc']}")
        return EXIT_OK
    staged = by_stage()
    pending = {stage: sorted(n for n, s in CONTRACT.items() if s == stage and n not in known) for stage in STAGES}
    if args.json:
        print(orjson.dumps({s: [_describe(c) for c in staged[s]] for s in STAGES}, option=orjson.OPT_INDENT_2)
              .decode())
        return EXIT_OK
    width = max(len(name) for name in known) + 2
    for stage in STAGES:
        print(stage)
        for cls in staged[stage]:
            print(f"  {cls.name:<{width}}{summary(cls.rule())}")
            described = _describe(cls)["args"]
            words = ", ".join(_arg_words(arg) for arg in described) if described else "none"
            print(f"  {'':<{width}}args: {words}")
        if pending[stage]:
            print(f"  not implemented yet: {', '.join(pending[stage])}")
    print(f"\ncheckpoint markers: {', '.join(SAVE_PREFIX + stage for stage in STAGES)} (the last entry of "
          "their stage; `etlcore ops save_pipeline_clean` says more)")
    print("`etlcore ops NAME` shows an operator's whole rule and what each arg means.")
    return EXIT_OK


def _describe_name(name: str, known: dict[str, type]) -> dict[str, Any]:
    """`etlcore ops NAME`: an operator, a checkpoint marker, or a refusal saying what was meant."""
    if name in known:
        return _describe(known[name])
    if name.startswith(SAVE_PREFIX) and name[len(SAVE_PREFIX):] in STAGES:
        stage = name[len(SAVE_PREFIX):]
        return {"name": name, "stage": stage, "kind": "checkpoint marker",
                "rule": SAVE_MARKER_RULE.format(stage=stage), "args": []}
    if name in CONTRACT:
        raise EtlError(f"operator '{name}' is part of the contract but not implemented yet")
    image = image_problem({"name": name})
    if image:
        raise EtlError(image)
    markers = [SAVE_PREFIX + stage for stage in STAGES]
    close = difflib.get_close_matches(name, [*known, *markers], n=1, cutoff=0.6)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise EtlError(f"unknown operator '{name}'{hint}; valid names: {', '.join(sorted(known))}; checkpoint markers: "
                   f"{', '.join(markers)}")
