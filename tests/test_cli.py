from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from conftest import REPO, write_jsonl

from etlcore.cli import main


def run_cli(args: list[str], capfd: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capfd.readouterr()
    return code, out, err


def test_run_prints_the_result_json_and_exits_0(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "Hello World"}, {"text": 1}])
    config = tmp_path / "ops.json"
    config.write_bytes(orjson.dumps({"clean": [{"name": "replace_upper2lower", "args": {}}]}))
    code, out, err = run_cli(["run", "--config", config, "--output", tmp_path / "out.jsonl", source], capfd)
    assert code == 0
    response = orjson.loads(out)
    assert response["result"]["result"]["replace_upper2lower"] == {"processed_entity": 1}
    assert err.splitlines() == ["input = output + rejected + invalid: 2 = 1 + 0 + 1 (ok)",
                                "etlcore: done: 2 rows in " + err.split(" rows in ")[1].split("s,")[0]
                                + "s, 1 written, 0 rejected, 1 invalid"]
    assert (tmp_path / "out.jsonl").read_text(encoding="utf-8") == '{"id":"in.jsonl:1","text":"hello world"}\n'


@pytest.mark.parametrize(("config", "message"), [
    ({"clean": [{"name": "cut", "args": {"max_length": 0}}]},
     "operator 'cut' arg 'max_length': value 0 is out of range, allowed: integer in [1, 100000000]"),
    ({"filter": [{"name": "cut", "args": {"max_length": 3}}]},
     "operator 'cut' belongs to stage 'clean', not 'filter'"),
])
def test_bad_config_exits_2_and_writes_nothing(tmp_path: Path, capfd: pytest.CaptureFixture[str],
                                               config: dict, message: str) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "x"}])
    (tmp_path / "ops.json").write_bytes(orjson.dumps(config))
    code, out, err = run_cli(["run", "--config", tmp_path / "ops.json", "--output",
                              tmp_path / "out" / "o.jsonl", source], capfd)
    assert code == 2
    assert out == ""
    assert orjson.loads(err) == {"code": "ParamFieldValueInvalid", "message": message}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "ops.json"]


@pytest.mark.parametrize(("args", "message"), [
    (["--output", "{tmp}/o.jsonl", "{tmp}/missing.jsonl"], "input not found: {tmp}/missing.jsonl"),
    (["--output", "{tmp}/o.csv", "{tmp}/in.jsonl"],
     "output {tmp}/o.csv: unsupported extension; use .jsonl (optionally .gz/.zst) or .parquet"),
    (["--config", "{tmp}/none.json", "--output", "{tmp}/o.jsonl", "{tmp}/in.jsonl"],
     "config file not found: {tmp}/none.json"),
])
def test_bad_paths_exit_2_and_write_nothing(tmp_path: Path, capfd: pytest.CaptureFixture[str],
                                            args: list[str], message: str) -> None:
    write_jsonl(tmp_path / "in.jsonl", [{"text": "x"}])
    code, out, err = run_cli(["run", *[a.format(tmp=tmp_path) for a in args]], capfd)
    assert code == 2
    assert out == ""
    expected = {"code": "ParamFieldValueInvalid", "message": message.format(tmp=tmp_path)}
    assert orjson.loads(err.splitlines()[-1]) == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


def test_ops_lists_every_stage_and_shows_one(capfd: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["ops"], capfd)
    assert code == 0
    lines = out.splitlines()
    assert [line for line in lines if line and not line.startswith((" ", "checkpoint markers", "`etlcore"))] == [
        "clean", "filter", "deduplication", "desensitization"]
    assert any(line.split()[0] == "cut" for line in lines if line.startswith("  "))
    code, out, _ = run_cli(["ops", "cut"], capfd)
    assert code == 0
    assert out.startswith("cut  (Mapper, stage clean)\n\nTruncate every document to at most `max_length`")
    assert "  max_length: integer in [1, 100000000]; required. maximum document length in characters\n" in out
    code, out, _ = run_cli(["ops", "cut", "--json"], capfd)
    assert orjson.loads(out)["args"] == [{"name": "max_length", "allowed": "integer in [1, 100000000]",
                                          "required": True, "default": None,
                                          "doc": "maximum document length in characters"}]
    code, _, err = run_cli(["ops", "nope"], capfd)
    assert code == 2
    assert orjson.loads(err)["message"].startswith("unknown operator 'nope'; valid names: cut, ")


def test_python_dash_m_and_the_sample_with_the_embedded_default(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "etlcore", "run", str(REPO / "resources/sample/corpus.jsonl"),
                           "--output", str(tmp_path / "sample.jsonl")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    response = orjson.loads(done.stdout)
    extra = response["etlcore"]
    assert extra["input_rows"] == extra["output_rows"] + extra["rejected_rows"] + extra["invalid_rows"]
    assert extra["input_rows"] == 336
    assert extra["invalid_rows"] == 6
    # What the embedded default config did to the sample: every injected PII value, HTML tag and
    # emoji of the ground truth is gone, and traditional characters were converted.
    truth = orjson.loads((REPO / "resources/sample/truth.json").read_bytes())
    output = (tmp_path / "sample.jsonl").read_text(encoding="utf-8")
    injected = [v for part in ("zh", "en") for v in truth[part]["dirty"].values()]
    assert [v["pii"] for v in injected if "pii" in v and v["pii"] in output] == []
    for marker in ("<p>", "<script", "&nbsp;", "😀", "🇨🇳", "\u200b", "不經意", "妳"):
        assert marker not in output


def test_ctrl_c_stops_cleanly_with_status_3_and_exit_130(tmp_path: Path) -> None:
    import os
    import signal
    import time

    lines = (REPO / "resources/sample/corpus.jsonl").read_bytes()
    (tmp_path / "big.jsonl").write_bytes(lines * 300)  # about 100 000 rows, 110 MB
    (tmp_path / "ops.json").write_bytes(orjson.dumps({"clean": [{"name": "replace_upper2lower"}]}))
    process = subprocess.Popen([sys.executable, "-m", "etlcore", "run", str(tmp_path / "big.jsonl"), "--workers", "1",
                                "--config", str(tmp_path / "ops.json"), "--output", str(tmp_path / "out.jsonl")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not any(name.startswith(".out.jsonl.tmp") for name in os.listdir(tmp_path)):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.01)
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    response = orjson.loads(out)
    assert response["result"]["processStatus"] == 3
    assert response["result"]["result"]["failReason"] == "interrupted by the user"
    assert re.fullmatch(r"input = output \+ rejected \+ invalid: not checked, the run stopped after reading \d+ "
                        r"rows \(\d+ % of the input\); nothing written \(complete checkpoints are kept\)",
                        err.splitlines()[0])
    assert sorted(os.listdir(tmp_path)) == ["big.jsonl", "ops.json", "out.jsonl.etlcore"]
    assert sorted(os.listdir(tmp_path / "out.jsonl.etlcore")) == ["logs", "result.json"]


def test_progress_bar_on_a_terminal_only(tmp_path: Path) -> None:
    import os
    import pty

    lines = (REPO / "resources/sample/corpus.jsonl").read_bytes()
    (tmp_path / "big.jsonl").write_bytes(lines * 100)
    (tmp_path / "ops.json").write_bytes(orjson.dumps({"clean": [{"name": "replace_upper2lower"}]}))
    command = [sys.executable, "-m", "etlcore", "run", str(tmp_path / "big.jsonl"), "--workers", "1",
               "--batch-size", "1000", "--config", str(tmp_path / "ops.json")]
    master, slave = pty.openpty()
    process = subprocess.Popen([*command, "--output", str(tmp_path / "a.jsonl")], stdout=subprocess.DEVNULL,
                               stderr=slave)
    os.close(slave)
    shown = b""
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        shown += data
    assert process.wait(timeout=60) == 0
    os.close(master)
    text = shown.decode("utf-8", errors="replace")
    assert "etlcore pass 1/1 (clean + filter + desensitization): " in text
    assert " rows/s, " in text and "% of the pass, ETA of the run " in text and "docs" not in text
    assert "input = output + rejected + invalid: 33600 = 33000 + 0 + 600 (ok)" in text
    piped = subprocess.run([*command, "--output", str(tmp_path / "b.jsonl")], capture_output=True, text=True)
    assert " rows/s" not in piped.stderr
    assert piped.stderr.splitlines()[0] == "input = output + rejected + invalid: 33600 = 33000 + 0 + 600 (ok)"


def test_a_run_exits_with_its_own_code_when_stdouts_reader_is_gone(tmp_path: Path) -> None:
    # `etlcore run … | true`: the result JSON cannot be written, but the exit code still says how the run
    # went (it said 0 for a failed run).
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "hello"}, {"text": "world"}])
    for column, expected in (("text", 0), ("body", 1)):  # "body": every row invalid, the run fails
        read, write = os.pipe()
        os.close(read)  # the reader is gone before anything is written
        with open(write, "wb") as stdout:
            done = subprocess.run([sys.executable, "-m", "etlcore", "run", str(source), "--output",
                                   str(tmp_path / f"{column}.jsonl"), "--text-column", column],
                                  stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=120)
        assert done.returncode == expected, done.stderr
        assert "Traceback" not in done.stderr


def test_a_gzip_output_is_the_same_bytes_for_the_same_rows(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": str(i), "text": f"doc {i}"} for i in range(20)])
    outputs = []
    for name in ("a", "b"):
        assert main(["run", str(source), "--output", str(tmp_path / name / "out.jsonl.gz")]) == 0
        outputs.append((tmp_path / name / "out.jsonl.gz").read_bytes())
        time.sleep(1.1)  # a header time stamp would differ
    assert outputs[0] == outputs[1]
