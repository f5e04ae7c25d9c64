"""`etlcore serve` driven by the real SDKs (qianfan 0.4.12.3, huaweicloudsdkmodelarts 3.1.219) on a free
loopback port: both lifecycles, refused keys and bodies, concurrency, limits and start-up errors."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path

import orjson
import pytest
import requests
from serverkit import (
    AK,
    PROJECT,
    SAMPLE,
    SEED_OPERATIONS,
    SK,
    ModelArts,
    Server,
    big_corpus,
    modelarts_body,
    qianfan_data,
    wait_for,
)

import etlcore

pytest.importorskip("qianfan")
pytest.importorskip("huaweicloudsdkmodelarts")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    shutil.copy(SAMPLE, tmp_path / "data" / "corpus.jsonl")
    return tmp_path


@pytest.fixture
def server(root: Path) -> Server:
    running = Server(root, max_running=2).start()
    yield running
    running.stop()


def test_the_qianfan_lifecycle(server: Server, root: Path) -> None:
    from qianfan.errors import QianfanError

    data = qianfan_data(server)
    created = data.create_dataset_etl_task("clean-sample", "data/corpus.jsonl", "work/qianfan", SEED_OPERATIONS)
    task_id = created["result"]
    assert task_id.startswith("task-")

    def finished() -> dict | None:
        detail = data.get_dataset_etl_task_info(task_id).body
        assert detail["success"] is True and detail["status"] == 200  # on every poll, running or not
        return detail if detail["result"]["processStatus"] == 2 else None

    detail = wait_for(finished)["result"]
    direct = etlcore.run(SEED_OPERATIONS, [root / "data" / "corpus.jsonl"], root / "direct" / "out.jsonl")
    assert detail["etlTaskId"] == task_id and detail["operationsV2"] == SEED_OPERATIONS
    assert detail["entityCount"] == direct["result"]["entityCount"] == 336
    assert detail["remainingEntity"] == direct["result"]["remainingEntity"]
    assert detail["result"]["pipeline_stage_result"] == direct["result"]["result"]["pipeline_stage_result"]
    output = root / "work" / "qianfan" / task_id / "output.jsonl"
    assert output.read_bytes() == (root / "direct" / "out.jsonl").read_bytes()

    listing = data.get_dataset_etl_task_list(page_size=20, offset=0).body["result"]
    assert listing["total"] == 1 and listing["processingCount"] == 0
    [item] = listing["items"]
    assert (item["etlStrId"], item["processStatus"], item["destDatasetName"]) == (
        task_id, 2, str(root / "work" / "qianfan"))
    assert item["operatorNameList"][:2] == ["remove_invisible_character", "replace_uniform_whitespace"]
    # The same store as `etlcore task`: the CLI lists it too.
    listed = subprocess.run([sys.executable, "-m", "etlcore", "task", "--store", str(server.store), "list", "--json"],
                            capture_output=True, check=True)
    assert [t["task_id"] for t in orjson.loads(listed.stdout)] == [task_id]

    assert data.delete_dataset_etl_task([task_id]).body["result"] is True
    # HTTP 400 with the seed's error shape: the SDK raises, showing the answer's message.
    with pytest.raises(QianfanError, match=rf"no etl task .{{0,2}}{task_id}"):
        data.get_dataset_etl_task_info(task_id)
    assert data.get_dataset_etl_task_list().body["result"]["total"] == 0


def test_qianfan_call_action_form_and_bad_requests(server: Server) -> None:
    from qianfan.errors import QianfanError
    from qianfan.resources.console.utils import call_action

    qianfan_data(server)
    body = {"etlTaskName": "via-call_action", "sourceDatasetId": "data/corpus.jsonl", "destDatasetId": "work/q",
            "entityType": 2, "operationsV2": {"clean": [{"name": "remove_emoji", "args": {}}]}}
    task_id = call_action("/wenxinworkshop/etl/create", "", body).body["result"]
    assert call_action("/wenxinworkshop/etl/detail", "", {"etlId": task_id}).body["result"]["etlTaskId"] == task_id
    bad = {**body, "sourceDatasetId": "../outside.jsonl"}
    with pytest.raises(QianfanError, match=r"sourceDatasetId: ../outside.jsonl is outside the allowed folder"):
        call_action("/wenxinworkshop/etl/create", "", bad)
    bad = {**body, "operationsV2": {"clean": [{"name": "remove_emojis", "args": {}}]}}
    with pytest.raises(QianfanError, match="remove_emojis"):
        call_action("/wenxinworkshop/etl/create", "", bad)
    with pytest.raises(QianfanError, match="outside the allowed folder"):
        call_action("/wenxinworkshop/etl/create", "", {**body, "destDatasetId": "/tmp/elsewhere"})
    with pytest.raises(QianfanError, match="etlIds: required"):
        call_action("/wenxinworkshop/etl/delete", "", {"etlIds": []})


def test_the_modelarts_lifecycle(server: Server, root: Path) -> None:
    from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException

    client = ModelArts(server)
    task_id = client.call("POST", "", modelarts_body("data/corpus.jsonl", create_version=True))["task_id"]
    shown = wait_for(lambda: (t := client.call("GET", "/{task_id}", task_id=task_id))["status"] in (2, 3, 4) and t)
    direct = etlcore.run(SEED_OPERATIONS, [root / "data" / "corpus.jsonl"], root / "direct" / "out.jsonl")
    assert (shown["status"], shown["version_name"], shown["version_count"]) == (2, "V001", 1)
    rejected, invalid = direct["etlcore"]["rejected_rows"], direct["etlcore"]["invalid_rows"]
    assert shown["result"]["output_rows"] == direct["etlcore"]["output_rows"]
    assert client.call("GET", "/items")["total"] == 4

    [version] = client.call("GET", "/{task_id}/versions", task_id=task_id)["versions"]
    assert (version["task_version_id"], version["version_name"], version["status"]) == (task_id, "V001", 2)
    assert version["origin_sample_count"] == 336
    assert version["deleted_sample_count"] == rejected + invalid
    assert version["origin_sample_count"] - version["deleted_sample_count"] == version["unmodified_sample_count"]

    results = client.call("GET", "/{task_id}/versions/{version_id}/results", query=[("limit", 5)],
                          task_id=task_id, version_id=task_id)
    assert results["count"] == rejected + invalid and results["has_more"] is True
    rejects = [orjson.loads(line) for line in (root / "work/modelarts" / task_id / "work/rejects.jsonl")
               .read_bytes().splitlines()]
    assert [r["sample_id"] for r in results["results"]] == [r["id"] for r in rejects[:5]]
    assert results["results"][0]["result_description"] == [
        f"{rejects[0]['etl_operator']}: {rejects[0]['etl_reason']}"]

    invalid_rows = client.call("GET", "/{task_id}/versions/{version_id}/results", task_id=task_id, version_id=task_id,
                               query=[("result_property", "invalid"), ("limit", 10)])
    assert invalid_rows["count"] == invalid == len(invalid_rows["results"]) and not invalid_rows["has_more"]
    assert {r["result_property"] for r in invalid_rows["results"]} == {"invalid"}

    client.call("PUT", "/{task_id}", {"description": "updated"}, task_id=task_id)
    assert client.call("GET", "/{task_id}", task_id=task_id)["description"] == "updated"
    listed = client.call("GET", "", query=[("limit", 10), ("task_type", "sys_data_cleaning"),
                                           ("query_current", "true")])
    assert listed["count"] == 1 and listed["tasks"][0]["task_id"] == task_id

    # A second version on a bigger input, stopped while it runs.
    big_corpus(root / "data" / "big.jsonl", 40)
    version_id = client.call("POST", "/{task_id}/versions", {"inputs": [{"type": "OBS", "source": "data/big.jsonl"}]},
                             task_id=task_id)["version_id"]
    wait_for(lambda: client.call("GET", "/{task_id}/versions/{version_id}", task_id=task_id,
                                 version_id=version_id)["status"] == 1, every=0.05)
    # Once the run logs its start it handles Ctrl-C (a signal before that is the runner's to fix).
    wait_for(lambda: "input files" in "".join(
        p.read_text() for p in (root / "work/modelarts" / version_id / "work").glob("logs/*.log")), every=0.05)
    client.call("POST", "/{task_id}/versions/{version_id}/stop", task_id=task_id, version_id=version_id)
    stopped = wait_for(lambda: (v := client.call("GET", "/{task_id}/versions/{version_id}", task_id=task_id,
                                                 version_id=version_id))["status"] != 1 and v)
    assert stopped["status"] == 4  # stopped (etlcore processStatus 3)
    assert len(client.call("GET", "/{task_id}/versions", task_id=task_id)["versions"]) == 2
    assert client.call("DELETE", "/{task_id}/versions/{version_id}", task_id=task_id, version_id=version_id) is None
    assert client.call("GET", "/{task_id}", task_id=task_id)["version_count"] == 1

    client.call("DELETE", "/{task_id}", task_id=task_id)
    with pytest.raises(ClientRequestException) as missing:
        client.call("GET", "/{task_id}", task_id=task_id)
    assert missing.value.status_code == 404 and missing.value.error_code == "ModelArts.4352"


def test_wrong_keys_are_refused_by_both_families(server: Server) -> None:
    from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
    from qianfan.errors import RequestError

    data = qianfan_data(server, sk="wrong-sk")
    with pytest.raises(RequestError) as refused:
        data.get_dataset_etl_task_list()
    assert "SignatureDoesNotMatch" in str(refused.value)
    data = qianfan_data(server, ak="other-ak")
    with pytest.raises(RequestError, match="InvalidAccessKeyId"):
        data.get_dataset_etl_task_list()
    with pytest.raises(ClientRequestException) as refused:
        ModelArts(server, sk="wrong-sk").call("GET", "")
    assert (refused.value.status_code, refused.value.error_code) == (401, "APIGW.0301")
    assert "test-sk" not in server.log() and "wrong-sk" not in server.log()


def _signed_modelarts(server: Server, method: str, path: str, body: bytes) -> dict[str, str]:
    """The headers huaweicloudsdkcore's own signer puts on this request."""
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkcore.sdk_request import SdkRequest

    request = SdkRequest(method=method, schema="http", host=f"127.0.0.1:{server.port}", resource_path=path,
                         header_params={"Content-Type": "application/json;charset=UTF-8", "X-Project-Id": PROJECT},
                         query_params=[],
                         body=body)
    signed = BasicCredentials(AK, SK, PROJECT).sign_request(request)
    return dict(signed.header_params)


def test_tampered_requests_are_refused(server: Server, root: Path) -> None:
    path = f"/v2/{PROJECT}/processor-tasks"
    body = orjson.dumps(modelarts_body("data/corpus.jsonl"))
    headers = _signed_modelarts(server, "POST", path, body)
    tampered = body.replace(b"data/corpus.jsonl", b"data/corpus.jsonX")
    refused = requests.post(server.url + path, data=tampered, headers=headers, timeout=10)
    assert refused.status_code == 401 and refused.json() == {
        "error_code": "APIGW.0301", "error_msg": "Incorrect IAM authentication information: verify signature failed"}
    accepted = requests.post(server.url + path, data=body, headers=headers, timeout=10)
    assert accepted.status_code == 200 and accepted.json()["task_id"].startswith("task-")

    # Qianfan: bce-auth-v1 does not sign the body (API.md 3), so a changed path, query or date is what it refuses.
    from baidubce.auth import bce_credentials, bce_v1_signer

    date = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    signed_headers = {b"host": f"127.0.0.1:{server.port}".encode(), b"content-type": b"application/json",
                      b"x-bce-date": date.encode()}
    authorization = bce_v1_signer.sign(bce_credentials.BceCredentials(AK, SK), b"POST", b"/wenxinworkshop/etl/list",
                                       signed_headers, {}, headers_to_sign={b"host", b"content-type", b"x-bce-date"})
    headers = {"Content-Type": "application/json", "x-bce-date": date,
               "Authorization": authorization.decode() if isinstance(authorization, bytes) else authorization}
    good = requests.post(server.url + "/wenxinworkshop/etl/list", json={}, headers=headers, timeout=10)
    assert good.status_code == 200 and good.json()["success"] is True
    for url, extra in [("/wenxinworkshop/etl/detail", {}), ("/wenxinworkshop/etl/list?Action=", {}),
                       ("/wenxinworkshop/etl/list", {"x-bce-date": "2020-01-01T00:00:00Z"})]:
        refused = requests.post(server.url + url, json={}, headers={**headers, **extra}, timeout=10)
        assert refused.status_code == 403 and refused.json()["code"] == "SignatureDoesNotMatch", url
        assert refused.headers["X-Bce-Error-Code"] == "SignatureDoesNotMatch"
    unsigned = requests.post(server.url + "/wenxinworkshop/etl/list", json={}, timeout=10)
    assert unsigned.status_code == 400 and unsigned.json()["code"] == "InvalidHTTPAuthHeader"


def test_bodies_over_one_megabyte_get_413(server: Server) -> None:
    big = b'{"x": "' + b"a" * (1024 * 1024) + b'"}'
    for url in ("/wenxinworkshop/etl/create", f"/v2/{PROJECT}/processor-tasks"):
        answer = requests.post(server.url + url, data=big, headers={"Content-Type": "application/json"}, timeout=10)
        assert answer.status_code == 413, url


def test_ten_tasks_created_at_once_all_finish_with_distinct_ids(server: Server) -> None:
    data = qianfan_data(server)
    light = {"clean": [{"name": "remove_emoji", "args": {}}]}
    ids: list[str] = []
    errors: list[BaseException] = []

    def create(number: int) -> None:
        try:
            if number % 2:
                ids.append(data.create_dataset_etl_task(f"t{number}", "data/corpus.jsonl", "work/q", light)["result"])
            else:
                params = [{"name": "remove_emoji", "params": {}}]
                ids.append(ModelArts(server).call("POST", "", modelarts_body("data/corpus.jsonl", params=params))
                           ["task_id"])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=create, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(set(ids)) == 10

    def all_done() -> list[dict] | None:
        details = [data.get_dataset_etl_task_info(i).body for i in ids]
        return details if all(d["result"]["processStatus"] == 2 for d in details) else None

    details = wait_for(all_done, timeout=180)
    outputs = {hashlib.sha256(next((server.root / "work").glob(f"*/{i}/output.jsonl")).read_bytes()).hexdigest()
               for i in ids}
    assert len(outputs) == 1  # the same operator over the same input, whichever API created it
    assert {d["result"]["entityCount"] for d in details} == {336}
    assert data.get_dataset_etl_task_list(page_size=20).body["result"]["total"] == 10


def test_start_up_errors(root: Path) -> None:
    etl = [sys.executable, "-m", "etlcore", "serve", "--port", "1"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETLCORE_")}

    def refused(*args: str, **extra_env: str) -> dict:
        done = subprocess.run([*etl, *args], cwd=root, env={**env, **extra_env}, capture_output=True, timeout=60)
        assert done.returncode == 2, done.stderr
        return orjson.loads(done.stderr.decode().strip().splitlines()[-1])

    assert refused()["message"].startswith("no credentials: give --credentials FILE or set ETLCORE_ACCESS_KEY")
    assert refused("--no-auth", "--host", "0.0.0.0")["message"].startswith(
        "--no-auth is refused for host 0.0.0.0: without authentication the server may only listen on a loopback")
    credentials = root / "keys.json"
    credentials.write_text(orjson.dumps({AK: SK}).decode())
    credentials.chmod(0o644)
    assert refused("--credentials", str(credentials))["message"] == (
        f"the credentials file {credentials} is open to other users (mode 644); chmod 600 {credentials}")
    credentials.chmod(0o600)
    credentials.write_text("[]")
    assert "must be a JSON object mapping access keys" in refused("--credentials", str(credentials))["message"]
    assert refused(ETLCORE_ACCESS_KEY="x")["message"] == (
        "set both ETLCORE_ACCESS_KEY and ETLCORE_SECRET_KEY, or neither")


def test_a_credentials_file_with_project_ids(root: Path) -> None:
    from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException

    credentials = root / "keys.json"
    credentials.write_text(orjson.dumps({AK: {"secret_key": SK, "project_ids": [PROJECT]}, "ak2": "sk2"}).decode())
    credentials.chmod(0o600)
    server = Server(root, extra=("--credentials", str(credentials)), env={"ETLCORE_ACCESS_KEY": ""}).start()
    try:
        assert ModelArts(server).call("GET", "")["count"] == 0
        assert ModelArts(server, "ak2", "sk2", "a" * 32).call("GET", "")["count"] == 0
        with pytest.raises(ClientRequestException) as refused:
            ModelArts(server, project="b" * 32).call("GET", "")
        assert refused.value.status_code == 403 and "may not use project" in refused.value.error_msg
    finally:
        server.stop()


LIGHT_FORM = {"name": "light", "input": "data/corpus.jsonl", "template": "sys_data_cleaning",
              "config": orjson.dumps({"clean": [{"name": "remove_emoji", "args": {}}]}).decode()}


def test_a_no_auth_server_refuses_cross_site_and_rebound_requests(root: Path) -> None:
    from etlcore.tasks.store import TaskStore

    server = Server(root, extra=("--no-auth",)).start()
    own = f"127.0.0.1:{server.port}"
    try:
        # The tester's request: a form on evil.example posted to a DNS name rebound to 127.0.0.1.
        attack = requests.post(server.url + "/new", data=LIGHT_FORM, allow_redirects=False, timeout=10,
                               headers={"Origin": "http://evil.example", "Host": "evil.example"})
        assert attack.status_code == 403 and attack.headers["content-type"].startswith("text/html")
        assert "&#x27;evil.example&#x27; names no loopback host" in attack.text
        # A form on another site posted straight to 127.0.0.1, and a sandboxed page's `Origin: null`.
        for origin in ("http://evil.example", "null", f"http://localhost:{server.port}", f"https://{own}"):
            foreign = requests.post(server.url + "/new", data=LIGHT_FORM, allow_redirects=False, timeout=10,
                                    headers={"Origin": origin})
            assert foreign.status_code == 403, origin
            assert f"Origin &#x27;{origin}&#x27; is not this server&#x27;s own" in foreign.text
        # A rebound page reading results under its own name: no Origin on a same-origin GET, only its Host.
        for path in ("/", "/new"):
            assert requests.get(server.url + path, headers={"Host": "evil.example"}, timeout=10).status_code == 403
        rebound = requests.post(server.url + "/new", data=LIGHT_FORM, headers={"Host": "evil.example:80"},
                                allow_redirects=False, timeout=10)
        assert rebound.status_code == 403
        # The API paths answer in their family's shape.
        qianfan = requests.post(server.url + "/wenxinworkshop/etl/list", json={}, timeout=10,
                                headers={"Origin": "http://evil.example"})
        message = "cross-site request refused: Origin 'http://evil.example' is not this server's own"
        assert qianfan.status_code == 403 and qianfan.headers["X-Bce-Error-Code"] == "AccessDenied"
        assert qianfan.json() == {"requestId": qianfan.json()["requestId"], "code": "AccessDenied", "message": message}
        modelarts = requests.get(f"{server.url}/v2/{PROJECT}/processor-tasks", headers={"Host": "evil.example"},
                                 timeout=10)
        assert modelarts.status_code == 403 and modelarts.json() == {
            "error_code": "ModelArts.0403", "error_msg": "the Host header 'evil.example' names no loopback host; a "
            "server without authentication answers requests for localhost, 127.0.0.1 or [::1] only"}
        assert TaskStore(server.store).all() == []

        # The console's own form (same origin, under each loopback name) and the SDKs still work.
        for host in (own, f"localhost:{server.port}"):
            created = requests.post(server.url + "/new", data=LIGHT_FORM, allow_redirects=False, timeout=10,
                                    headers={"Origin": f"http://{host}", "Host": host})
            assert created.status_code == 303 and created.headers["location"].startswith("/tasks/task-")
        assert requests.get(server.url + "/", headers={"Host": f"[::1]:{server.port}"}, timeout=10).status_code == 200
        assert ModelArts(server).call("GET", "")["count"] == 2
        assert qianfan_data(server).get_dataset_etl_task_list().body["result"]["total"] == 2
        assert len(TaskStore(server.store).all()) == 2
        assert "refused POST /new: the Host header 'evil.example' names no loopback host" in server.log()
    finally:
        server.stop()


def test_a_signed_server_refuses_foreign_origins_too(server: Server) -> None:
    from etlcore.tasks.store import TaskStore

    path = f"/v2/{PROJECT}/processor-tasks"
    body = orjson.dumps(modelarts_body("data/corpus.jsonl"))
    headers = _signed_modelarts(server, "POST", path, body)
    foreign = requests.post(server.url + path, data=body, headers={**headers, "Origin": "http://evil.example"},
                            timeout=10)
    assert foreign.status_code == 403 and foreign.json() == {
        "error_code": "ModelArts.0403",
        "error_msg": "cross-site request refused: Origin 'http://evil.example' is not this server's own"}
    login = requests.post(server.url + "/login", data={"access_key": AK, "secret_key": SK}, allow_redirects=False,
                          headers={"Origin": "null"}, timeout=10)
    assert login.status_code == 403 and "set-cookie" not in login.headers
    assert TaskStore(server.store).all() == []
    # The same signed request from the server's own origin (a page it served) is accepted.
    assert requests.post(server.url + path, data=body, headers={**headers, "Origin": server.url},
                         timeout=10).json()["task_id"].startswith("task-")
    assert ModelArts(server).call("GET", "")["count"] == 1


def test_the_seeds_image_tasks_are_refused_by_the_modelarts_create_as_by_the_cli(server: Server, root: Path) -> None:
    from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException

    image = {"task_type": "image_classification", "dataset_type": "manifest"}
    body = modelarts_body("data/corpus.jsonl", params=[{"name": "MetaValidation", "params": image}])
    body["template"]["id"] = "sys_data_validation"
    with pytest.raises(ClientRequestException) as refused:
        ModelArts(server).call("POST", "", body)
    message = ("template.operator_params: operator 'MetaValidation' (task_type image_classification, dataset_type "
               "manifest) works on images: etlcore processes text only; its text counterpart is the template "
               "sys_data_validation without operator_params (every row read and checked)")
    assert refused.value.status_code == 400 and refused.value.error_msg == message
    (root / "body.json").write_bytes(orjson.dumps(body))
    cli = subprocess.run([sys.executable, "-m", "etlcore", "task", "create", "body.json"], cwd=root,
                         capture_output=True, text=True)
    assert cli.returncode == 2 and orjson.loads(cli.stderr)["message"] == message
    assert ModelArts(server).call("GET", "")["count"] == 0
