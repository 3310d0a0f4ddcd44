"""The HTTP API on a real ``flyte-celery console`` process, over real HTTP, with real tokens.

Two projects, a token each, and an admin: each sees and acts on its own project only; a
viewer cannot submit; a revoked token is refused; failed sign-ins are rate limited; bad
bodies get a 4xx with the project's error shape and store nothing.
"""

from __future__ import annotations

import base64
import html
import http.cookiejar
import json
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flyteidl.core import literals_pb2, types_pb2
from google.protobuf import json_format
from hypothesis import given, settings
from hypothesis import strategies as st

from plugins.core import Phase
from plugins.errors import (
    AccessDeniedError,
    BackendUnavailableError,
    ConfigError,
    ExecutionNotFoundError,
    InvalidSubmissionError,
)
from scheduler import Client, Execution, Submission
from scheduler._backend import ApiTokens
from scheduler._model import parse_grants
from tests.helpers import INTEGER, RedisServer, task_template
from tests.integration.console_process import console_process
from tests.integration.jobservice import JobService
from tests.integration.stack import Stack
from tests.integration.templates import template as job_template
from tests.tasks import sample

ROOT = Path(__file__).resolve().parents[2]
MAX_BODY = 64 * 1024


@dataclass
class Api:
    """A console process serving the API, and a trusted client of the same deployment."""

    url: str
    client: Client
    tokens: dict[str, str]
    env: dict[str, str]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "scheduler.cli", *args],
            cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    def call(
        self, method: str, path: str, token: str | None, body: Any = None, raw: bytes | None = None
    ) -> tuple[int, Any]:
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as refused:
            with refused:
                return refused.code, json.loads(refused.read())


def _template() -> dict[str, Any]:
    template = task_template("echo", name="api.echo", inputs={"x": INTEGER}, outputs={"x": INTEGER})
    return json_format.MessageToDict(template)


@pytest.fixture(scope="module")
def api(
    redis_server: RedisServer, job_service: JobService, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Api]:
    stack = Stack(redis_server.url, tmp_path_factory.mktemp("api"), job_service.url)
    env = {**stack.env, "FLYTE_CELERY_API_MAX_BODY": str(MAX_BODY)}
    try:
        with console_process(env) as url:
            stack.start_worker("w1")
            stack.start_beat("beat")
            client = stack.client()
            made = ApiTokens(client.runtime.redis, client.runtime.keys)
            now = client.runtime.clock()
            grants = {
                "team-a": ["submitter@a"],
                "team-b": ["submitter@b"],
                "b-viewer": ["viewer@b"],
                "a-dev": ["submitter@a/development"],
                "admin": ["admin@*"],
            }
            tokens = {n: made.create(n, parse_grants(g), now)[0] for n, g in grants.items()}
            yield Api(url, client, tokens, env)
    finally:
        stack.stop()


def _submit(api: Api, token: str, project: str, domain: str = "development") -> tuple[int, Any]:
    body = {"project": project, "domain": domain, "template": _template(), "inputs": {"x": 1}}
    return api.call("POST", "/api/v1/executions", token, body)


def test_each_team_submits_to_its_own_project_only(api: Api) -> None:
    status, answer = _submit(api, api.tokens["team-a"], "a")
    assert status == 201, answer
    assert answer["project"] == "a" and answer["phase"] in ("UNDEFINED", "QUEUED")
    # The server wrote the files: the trusted client reads the inputs the API was given.
    record = api.client.record(answer["id"])
    assert api.client.inputs(record).literals["x"].scalar.primitive.integer == 1
    status, answer = _submit(api, api.tokens["team-a"], "b")
    assert status == 403, answer
    assert answer["code"] == "AccessDenied"
    assert "'b'" in answer["message"] and "submitter" in answer["message"]
    assert _submit(api, api.tokens["team-b"], "b")[0] == 201
    # A viewer looks, and may not submit; a grant on one domain covers that domain only.
    status, answer = _submit(api, api.tokens["b-viewer"], "b")
    assert status == 403 and "needs the submitter role" in answer["message"]
    assert _submit(api, api.tokens["a-dev"], "a", "production")[0] == 403
    assert _submit(api, api.tokens["a-dev"], "a", "development")[0] == 201


def test_a_token_sees_and_acts_on_its_own_projects_executions_only(api: Api) -> None:
    mine = _submit(api, api.tokens["team-a"], "a")[1]
    theirs = _submit(api, api.tokens["team-b"], "b")[1]
    status, page = api.call("GET", "/api/v1/executions?limit=500", api.tokens["team-a"])
    assert status == 200
    assert {e["project"] for e in page["executions"]} == {"a"}
    assert mine["id"] in {e["id"] for e in page["executions"]}
    status, page = api.call("GET", "/api/v1/executions?project=b", api.tokens["team-a"])
    assert status == 403 and "'b'" in page["message"]
    everything = api.call("GET", "/api/v1/executions?limit=500", api.tokens["admin"])[1]
    assert {e["project"] for e in everything["executions"]} == {"a", "b"}
    path = f"/api/v1/executions/{theirs['id']}"
    for suffix, method in (("", "GET"), ("/events", "GET"), ("/inputs", "GET"),
                           ("/abort", "POST"), ("/signal", "POST")):  # fmt: skip
        status, answer = api.call(
            method, path + suffix, api.tokens["team-a"], {} if method == "POST" else None
        )
        assert status == 403, (suffix, answer)
    # b's viewer reads b's execution, and may not abort it.
    assert api.call("GET", path, api.tokens["b-viewer"])[0] == 200
    assert api.call("POST", path + "/abort", api.tokens["b-viewer"], {})[0] == 403
    counts = api.call("GET", "/api/v1/counts", api.tokens["team-a"])[1]
    assert sum(c["count"] for c in counts["counts"]) == len(
        api.call("GET", "/api/v1/executions?limit=500", api.tokens["team-a"])[1]["executions"]
    )


def test_abort_and_signal_name_who_acted(api: Api) -> None:
    body = {
        "project": "a",
        "template": json_format.MessageToDict(job_template("http_job")),
        "inputs": {"seconds": 60.0},
    }
    status, mine = api.call("POST", "/api/v1/executions", api.tokens["team-a"], body)
    assert status == 201, mine
    path = f"/api/v1/executions/{mine['id']}"
    status, answer = api.call("POST", path + "/signal", api.tokens["team-a"])
    assert status == 200 and answer["id"] == mine["id"]
    status, answer = api.call("POST", path + "/abort", api.tokens["team-a"], {"reason": "wrong x"})
    assert status == 200, answer
    # (The record's teardown reason says it too, until the abort is done: a race to read.)
    record = api.client.record(mine["id"])
    # The audit trail: who submitted, signalled and aborted, in the events.
    assert record.submitted_by == "team-a" and mine["submitted_by"] == "team-a"
    events = api.call("GET", path + "/events", api.tokens["team-a"])[1]["events"]
    asked = [(e["reason"], e["actor"]) for e in events if e["actor"]]
    assert asked[0] == ("submitted", "team-a")
    assert ("signalled", "team-a") in asked
    assert ("abort requested: wrong x (by team-a)", "team-a") in asked
    status, inputs = api.call("GET", path + "/inputs", api.tokens["team-a"])
    assert (
        status == 200 and inputs["literals"]["seconds"]["scalar"]["primitive"]["floatValue"] == 60
    )
    assert base64.b64decode(inputs["pb"])
    ended = Execution(api.client, api.client.record(mine["id"]))
    assert ended.wait(60) is Phase.ABORTED


def test_a_revoked_or_unknown_token_is_refused_and_failures_are_limited(api: Api) -> None:
    tokens = ApiTokens(api.client.runtime.redis, api.client.runtime.keys)
    token, _ = tokens.create("short-lived", parse_grants(["viewer@a"]), api.client.runtime.clock())
    assert api.call("GET", "/api/v1/executions", token)[0] == 200
    assert tokens.revoke("short-lived")
    status, answer = api.call("GET", "/api/v1/executions", token)
    assert status == 401 and answer["code"] == "Unauthenticated" and "revoked" in answer["message"]
    assert api.call("GET", "/api/v1/executions", None)[0] == 401
    statuses = [api.call("GET", "/api/v1/executions", f"fct_wrong{i}")[0] for i in range(12)]
    assert statuses[0] == 401 and statuses[-1] == 429
    # Others' guesses from the same address (a NAT, a proxy) lock no good token out.
    assert api.call("GET", "/api/v1/executions", api.tokens["admin"])[0] == 200
    api.client.runtime.redis.delete(*api.client.runtime.redis.keys("*signin-failures*"))


def test_the_cli_makes_lists_and_revokes_tokens(api: Api) -> None:
    made = api.cli("token", "create", "ci", "--grant", "viewer@a", "--grant", "submitter@a/dev")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("fct_") and "shown once" in made.stderr
    assert api.call("GET", "/api/v1/executions?project=a", token)[0] == 200
    listed = api.cli("token", "list")
    assert listed.returncode == 0 and "ci" in listed.stdout and "viewer@a" in listed.stdout
    assert token not in listed.stdout + listed.stderr  # shown once, never again
    again = api.cli("token", "create", "ci", "--grant", "viewer@a")
    assert again.returncode == 2 and "exists" in again.stderr and "Traceback" not in again.stderr
    bad = api.cli("token", "create", "x", "--grant", "owner@a")
    assert bad.returncode == 2 and "unknown role 'owner'" in bad.stderr
    assert bad.stderr.count("\n") == 1
    assert api.cli("token", "revoke", "ci").returncode == 0
    assert api.call("GET", "/api/v1/executions?project=a", token)[0] == 401
    assert api.cli("token", "revoke", "ci").returncode == 1


def test_bad_bodies_are_4xx_with_one_message_and_store_nothing(api: Api) -> None:
    token = api.tokens["team-a"]
    before = api.client.runtime.store.indexes.count()
    cases = [
        (b"{not json", 400, "MalformedBody"),
        (json.dumps({"project": "a", "template": _template(), "colour": "red"}).encode(), 400,
         "InvalidBody"),
        (json.dumps({"project": "a", "template": {"type": "echo", "nosuch": 1}}).encode(), 400,
         "MalformedProtobuf"),
        (json.dumps({"project": "a", "template_pb": "%%%"}).encode(), 400, "MalformedProtobuf"),
        (json.dumps({"project": "a", "template": _template(), "inputs": {"x": "one"}}).encode(),
         400, None),
        (json.dumps({"project": "a"}).encode(), 400, "InvalidSubmission"),
        (b"x" * (MAX_BODY + 1), 413, "PayloadTooLarge"),
    ]  # fmt: skip
    for raw, status, code in cases:
        got, answer = api.call("POST", "/api/v1/executions", token, raw=raw)
        assert got == status, (raw[:60], answer)
        assert set(answer) == {"code", "message"} and answer["message"]
        assert code is None or answer["code"] == code, answer
    assert (
        str(MAX_BODY)
        in api.call("POST", "/api/v1/executions", token, raw=b"x" * (MAX_BODY + 1))[1]["message"]
    )
    assert api.client.runtime.store.indexes.count() == before


def test_submissions_reach_no_file_outside_the_project_and_no_broken_text_is_stored(
    api: Api,
) -> None:
    token = api.tokens["team-a"]
    blob = types_pb2.LiteralType(blob=types_pb2.BlobType())
    takes_a_file = json_format.MessageToDict(task_template("echo", inputs={"f": blob}))
    # A path on the server is never uploaded from it.
    body = {"project": "a", "template": takes_a_file, "inputs": {"f": "/etc/passwd"}}
    status, answer = api.call("POST", "/api/v1/executions", token, body)
    assert status == 400 and "is a path on the server" in answer["message"]
    # A URI outside the project's own storage is refused: a worker would read it for them.
    elsewhere = literals_pb2.LiteralMap()
    elsewhere.literals["f"].scalar.blob.uri = "s3://another-bucket/secret.csv"
    encoded = base64.b64encode(elsewhere.SerializeToString()).decode()
    body = {"project": "a", "template": takes_a_file, "inputs_pb": encoded}
    status, answer = api.call("POST", "/api/v1/executions", token, body)
    assert status == 400 and "only at project 'a'" in answer["message"], answer
    # Text that is no Unicode would be stored and break every page that shows it.
    mine = _submit(api, token, "a")[1]
    raw = b'{"reason": "\\ud800"}'
    status, answer = api.call("POST", f"/api/v1/executions/{mine['id']}/abort", token, raw=raw)
    assert status == 400 and answer["code"] == "MalformedBody"
    assert api.call("GET", f"/api/v1/executions/{mine['id']}/events", token)[0] == 200
    # A caller of several projects says which one it lists.
    two = ApiTokens(api.client.runtime.redis, api.client.runtime.keys).create(
        "two-projects", parse_grants(["viewer@a", "viewer@b"]), api.client.runtime.clock()
    )[0]
    status, answer = api.call("GET", "/api/v1/executions", two)
    assert (
        status == 400 and "say which project" in answer["message"] and "a, b" in answer["message"]
    )
    assert api.call("GET", "/api/v1/executions?project=b", two)[0] == 200


def test_the_openapi_document_lists_every_operation(api: Api) -> None:
    status, document = api.call("GET", "/api/v1/openapi.json", None)
    assert status == 200 and document["openapi"].startswith("3.1")
    operations = {(m.upper(), p) for p, ops in document["paths"].items() for m in ops}
    assert ("POST", "/api/v1/executions") in operations
    assert ("POST", "/api/v1/executions/{project}/{domain}/{name}/abort") in operations
    assert "ExecutionView" in document["components"]["schemas"]


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
_PATHS = st.sampled_from([
    "/api/v1/executions", "/api/v1/executions/batch", "/api/v1/executions/a/development/x/abort",
    "/api/v1/executions/a/development/x/signal", "/api/v1/counts", "/api/v1/executions/a/d/%2F",
])  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    path=_PATHS,
    method=st.sampled_from(["GET", "POST", "PUT"]),
    body=_JSON | st.binary(max_size=64),
    project=st.sampled_from(["a", "b", "", "*"]),
)
def test_fuzzed_calls_get_2xx_or_4xx_with_the_error_shape(
    api: Api, path: str, method: str, body: Any, project: str
) -> None:
    if isinstance(body, dict):
        body = {**body, "project": project}
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    status, answer = api.call(
        method, path, api.tokens["team-a"], raw=raw if method != "GET" else None
    )
    assert 200 <= status < 500, (status, answer)
    if status >= 400:
        assert set(answer) == {"code", "message"}, answer


def test_client_connect_has_the_clients_methods_returns_and_errors(api: Api) -> None:
    remote = Client.connect(api.url, token=api.tokens["team-a"])
    echo = task_template("echo", name="api.echo", inputs={"x": INTEGER}, outputs={"x": INTEGER})
    ex = remote.submit(echo, {"x": 42}, project="a")
    assert isinstance(ex, Execution) and ex.record.project == "a"
    assert ex.result(timeout=120) == 42
    assert remote.get(ex.id).phase is Phase.SUCCESS
    assert [e.phase for e in remote.events(ex.id)][-1] is Phase.SUCCESS
    assert ex.id in {e.id for e in remote.list(project="a", limit=500)}
    assert remote.template(ex.record).type == "echo"
    # A @task object, converted here as the Redis-backed client converts it.
    assert remote.submit(sample.add, {"a": 1, "b": 5}, project="a").result(timeout=120) == 6
    many = remote.submit_many([Submission(echo, {"x": i}) for i in range(3)], project="a")
    assert [m.result(timeout=120) for m in many] == [0, 1, 2]
    # The project's own errors, never HTTP ones.
    with pytest.raises(AccessDeniedError, match="project 'b'"):
        remote.submit(echo, {"x": 1}, project="b")
    with pytest.raises(AccessDeniedError):
        remote.get("b/development/anything")
    with pytest.raises(ExecutionNotFoundError):
        remote.get("a/development/nosuch")
    with pytest.raises(InvalidSubmissionError):
        remote.submit(echo, {"x": "one"}, project="a")
    with pytest.raises(AccessDeniedError, match="not valid"):
        Client.connect(api.url, token="fct_unknown").list()
    api.client.runtime.redis.delete(*api.client.runtime.redis.keys("*signin-failures*"))
    with pytest.raises(BackendUnavailableError):
        Client.connect("http://127.0.0.1:9", token="fct_x").list()
    with pytest.raises(ConfigError, match="FLYTE_CELERY_TOKEN"):
        Client.connect(api.url, token="")


def test_a_client_of_one_project_never_sees_anothers_executions(api: Api) -> None:
    theirs = Client.connect(api.url, token=api.tokens["team-b"]).submit(
        task_template("echo", inputs={"x": INTEGER}), {"x": 1}, project="b"
    )
    mine = Client.connect(api.url, token=api.tokens["team-a"])
    listed = mine.list(limit=1000)
    assert listed and {e.record.project for e in listed} == {"a"}
    assert theirs.id not in {e.id for e in listed}
    assert sum(c.count for c in mine.phase_counts()) == len(listed)


def _job(api: Api, token: str, project: str) -> str:
    body = {
        "project": project,
        "template": json_format.MessageToDict(job_template("http_job")),
        "inputs": {"seconds": 60.0},
    }
    status, answer = api.call("POST", "/api/v1/executions", token, body)
    assert status == 201, answer
    return str(answer["id"])


def test_console_actions_are_checked_per_project_and_need_the_forms_token(api: Api) -> None:
    theirs = _job(api, api.tokens["team-b"], "b")
    mine = _job(api, api.tokens["team-a"], "a")
    env = {
        **api.env,
        "FLYTE_CELERY_CONSOLE_USERS": "alice:alice-pw,ops:ops-pw",
        "FLYTE_CELERY_CONSOLE_GRANTS": "alice=submitter@a;ops=admin@*",
        "FLYTE_CELERY_TRUSTED_USER_HEADER": "X-Forwarded-User",
    }
    # Off by default: the API's own console ignores the header.
    proxied = urllib.request.Request(api.url + "/api/v1/executions")
    proxied.add_header("X-Forwarded-User", "ops")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(proxied, timeout=30)
    assert refused.value.code == 401
    refused.value.close()
    with console_process(env) as url:
        # A proxy's user, with the console's grants for that name.
        request = urllib.request.Request(url + "/api/v1/executions?limit=500")
        request.add_header("X-Forwarded-User", "alice")
        with urllib.request.urlopen(request, timeout=30) as answer:
            listed = json.loads(answer.read())["executions"]
        assert listed and {e["project"] for e in listed} == {"a"}
        # A form another site makes the proxied browser post is refused: the API takes JSON.
        form = urllib.request.Request(
            f"{url}/api/v1/executions/{mine}/signal", data=b"x=1", method="POST"
        )
        form.add_header("X-Forwarded-User", "alice")
        form.add_header("Content-Type", "application/x-www-form-urlencoded")
        with pytest.raises(urllib.error.HTTPError) as forged:
            urllib.request.urlopen(form, timeout=30)
        assert forged.value.code == 403
        forged.value.close()
        jar = http.cookiejar.CookieJar()
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

        def post(path: str, fields: dict[str, str]) -> tuple[int, str]:
            data = urllib.parse.urlencode(fields).encode()
            try:
                with browser.open(url + path, data=data, timeout=30) as answer:
                    return answer.status, answer.read().decode()
            except urllib.error.HTTPError as refused:
                with refused:
                    return refused.code, refused.read().decode()

        # With grants, reading needs a signed-in user too.
        with pytest.raises(urllib.error.HTTPError) as anonymous:
            urllib.request.urlopen(url + "/", timeout=30)
        assert anonymous.value.code == 403
        anonymous.value.close()
        with browser.open(url + "/login", timeout=30) as form_page:
            form_page.read()
        xsrf = next(c.value for c in jar if c.name == "_xsrf")
        assert post("/login", {"name": "alice", "password": "alice-pw", "_xsrf": xsrf})[0] == 200
        with browser.open(url + "/?limit=500", timeout=30) as answer:
            listing = answer.read().decode()
        assert mine in listing and theirs not in listing
        with pytest.raises(urllib.error.HTTPError) as hidden:
            browser.open(f"{url}/executions/{theirs}", timeout=30)
        assert hidden.value.code == 403
        hidden.value.close()
        # Another project's execution: refused, naming the project and the role.
        status, page = post(f"/executions/{theirs}/abort", {"_xsrf": xsrf})
        assert status == 403 and "project 'b'" in html.unescape(page) and "submitter" in page
        assert api.client.record(theirs).teardown is None
        # A form without the XSRF token is refused, whoever is signed in.
        assert post(f"/executions/{mine}/abort", {})[0] == 403
        assert api.client.record(mine).teardown is None
        status, _ = post(f"/executions/{mine}/abort", {"_xsrf": xsrf, "reason": "from alice"})
        assert status == 200
        asked = [(e.reason, e.actor) for e in api.client.events(mine) if e.actor]
        assert ("abort requested: from alice (by alice)", "alice") in asked
        with browser.open(f"{url}/executions/{mine}", timeout=30) as answer:
            page = answer.read().decode()
        assert "submitted by" in page and "team-a" in page
        # Guessing passwords: 10 wrong ones a minute, then even the right one waits.
        guesses = [post("/login", {"name": "ops", "password": f"no{i}", "_xsrf": xsrf})[0]
                   for i in range(10)]  # fmt: skip
        assert set(guesses) == {401}
        assert post("/login", {"name": "ops", "password": "ops-pw", "_xsrf": xsrf})[0] == 429
        api.client.runtime.redis.delete(*api.client.runtime.redis.keys("*signin-failures*"))


def test_the_cli_works_through_the_api_with_a_token_alone(api: Api) -> None:
    # No Redis URL, no storage: the server URL and a token.
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLYTE_CELERY_")}
    env |= {"FLYTE_CELERY_SERVER_URL": api.url, "FLYTE_CELERY_TOKEN": api.tokens["team-a"]}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "scheduler.cli", *args],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False,
        )  # fmt: skip

    done = cli("submit", "--type", "echo", "--input", "x=5", "--project", "a", "--wait", "120")
    assert done.returncode == 0, done.stderr
    assert "SUCCESS" in done.stdout
    listed = cli("list", "--limit", "500")
    assert listed.returncode == 0, listed.stderr
    assert "a/development/" in listed.stdout and "b/development/" not in listed.stdout
    theirs = _job(api, api.tokens["team-b"], "b")
    refused = cli("abort", theirs)
    assert refused.returncode == 2 and "project 'b'" in refused.stderr
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    mine = _job(api, api.tokens["team-a"], "a")
    assert cli("abort", mine, "--reason", "cli").returncode == 0
    events = cli("events", mine)
    assert events.returncode == 0 and "abort requested: cli" in events.stdout
    assert "team-a" in events.stdout


def test_files_go_through_the_api_into_the_projects_storage(api: Api, tmp_path: Path) -> None:
    remote = Client.connect(api.url, token=api.tokens["team-a"])
    data = tmp_path / "data.txt"
    data.write_text("hello")
    folder = tmp_path / "folder"
    (folder / "inner").mkdir(parents=True)
    (folder / "a.txt").write_text("a")
    (folder / "inner" / "b.txt").write_text("b")
    single = types_pb2.LiteralType(blob=types_pb2.BlobType())
    multi = types_pb2.LiteralType(
        blob=types_pb2.BlobType(dimensionality=types_pb2.BlobType.MULTIPART)
    )
    declared = {"f": single, "d": multi}
    template = task_template("echo", inputs=declared, outputs=declared)
    ex = remote.submit(template, {"f": str(data), "d": str(folder)}, project="a")
    inputs = remote.inputs(ex.record).literals
    own = f"{api.client.settings.storage}/uploads/a/development/"
    assert inputs["f"].scalar.blob.uri.startswith(own)
    assert inputs["d"].scalar.blob.uri.startswith(own)
    store = api.client.runtime.data_store
    assert store.read_raw(inputs["f"].scalar.blob.uri) == b"hello"
    assert store.read_raw(inputs["d"].scalar.blob.uri + "/inner/b.txt") == b"b"
    # The outputs are files too: read through the API, as far as the token may see.
    out = ex.result(timeout=120)
    with out.f.open() as read:
        assert read.read() == b"hello"
    downloaded = Path(out.d.download())
    assert (downloaded / "inner" / "b.txt").read_text() == "b"
    output = remote.outputs(ex.record).literals["f"].scalar.blob.uri
    assert api.call("GET", f"/api/v1/files?uri={output}", api.tokens["team-b"])[0] == 403
    # The upload endpoint itself: the caller's project only, and names, not paths.
    upload = "/api/v1/uploads/a/development"
    for bad in ("../x", "/etc/x", "a/../b", ""):
        status, answer = api.call("POST", f"{upload}?path={bad}", api.tokens["team-a"], raw=b"x")
        assert status == 400, (bad, answer)
    status, answer = api.call(
        "POST", "/api/v1/uploads/b/development?path=x", api.tokens["team-a"], raw=b"x"
    )
    assert status == 403 and "'b'" in answer["message"]
    status, answer = api.call("POST", f"{upload}?path=x.csv", api.tokens["team-a"], raw=b"1,2")
    assert status == 201 and answer["uri"].startswith(own) and answer["uri"].endswith("/x.csv")
