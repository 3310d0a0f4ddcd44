"""The web console in a real headless Chromium, on a real stack: `celery worker`,
`celery beat`, Flower and `flyte-celery console` processes, a real Redis.

Each test reads the page as a user would (and saves a screenshot of it under the
test's temporary directory): the list shows a submitted execution, its page shows
its events, values and jobs, and an abort from the page ends it ABORTED.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from plugins.core import Phase
from scheduler._client import Client
from scheduler.testing import RedisServer
from tests.helpers import free_port, wait_for
from tests.integration.browser import chromium, console_post, until
from tests.integration.stack import ROOT, Stack
from tests.integration.templates import seconds
from tests.integration.templates import timed_template as template
from tests.tasks import sample

PASSWORD = "s3cret:with colon"  # everything after the first colon is the password


class Site:
    """The console of a running stack, and a browser on it."""

    def __init__(self, stack: Stack, url: str, flower: str, browser: WebDriver, shots: Path):
        self.stack, self.url, self.flower, self.browser, self.shots = (
            stack, url, flower, browser, shots,
        )  # fmt: skip
        self.client: Client = stack.client()

    def open(self, path: str) -> WebDriver:
        self.browser.get(self.url + path)
        return self.browser

    def shot(self, name: str) -> None:
        self.shots.mkdir(exist_ok=True)
        self.browser.save_screenshot(str(self.shots / f"{name}.png"))

    def text(self, css: str) -> str:
        # Read inside a wait: the page refreshes itself and may replace the element mid-read.
        read = until(self.browser, lambda d: [str(d.find_element(By.CSS_SELECTOR, css).text)])
        return read[0]

    def sign_in(self, name: str, password: str) -> None:
        self.browser.find_element(By.ID, "sign-in").click()
        until(self.browser, lambda d: d.find_elements(By.ID, "login-name"))
        self.browser.find_element(By.ID, "login-name").send_keys(name)
        self.browser.find_element(By.ID, "login-password").send_keys(password)
        self.browser.find_element(By.ID, "login-submit").click()


@pytest.fixture
def site(fresh_stack: Stack, tmp_path: Path) -> Iterator[Site]:
    fresh_stack.start_worker("w1")
    fresh_stack.start_beat("beat")
    flower_port = fresh_stack.start_flower()
    flower = f"http://127.0.0.1:{flower_port}"
    # Flower's event receiver connected: the jobs from here on are in Flower.
    fresh_stack.wait_log("flower", "Connected to")
    port = free_port()
    env = dict(
        fresh_stack.env,
        FLYTE_CELERY_CONSOLE_USERS=f"ops:{PASSWORD},viewer:other",
        FLYTE_CELERY_CONSOLE_REFRESH="0.5",
    )
    log = fresh_stack.log("console").open("ab")
    fresh_stack.processes["console"] = subprocess.Popen(
        [sys.executable, "-m", "scheduler.cli", "console", f"--port={port}",
         f"--flower-url={flower}"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    log.close()
    access = "abort, signal and relaunch for 2 user(s)"
    fresh_stack.wait_log("console", f"http://127.0.0.1:{port}/ ({access})")
    with chromium(tmp_path / "profile") as browser:
        yield Site(fresh_stack, f"http://127.0.0.1:{port}", flower, browser, tmp_path / "shots")
    # fresh_stack stops the processes


def flower_table(browser: WebDriver) -> str:
    """The text of Flower's job list (its rows load after the page, from its own API)."""
    tables = browser.find_elements(By.ID, "tasks-table")
    return str(tables[0].text) if tables else ""


def flower_knows(flower: str, name: str) -> bool:
    """Whether Flower has seen a job named ``name`` (its HTTP API, open in tests)."""
    query = urllib.parse.urlencode({"taskname": name, "limit": 1})
    with urllib.request.urlopen(f"{flower}/api/tasks?{query}", timeout=30) as response:
        return bool(json.loads(response.read()))


def row_phase(browser: WebDriver, exec_id: str) -> str | None:
    rows = browser.find_elements(By.CSS_SELECTOR, f'tr[data-id="{exec_id}"] .phase')
    return str(rows[0].text) if rows else None


def test_the_list_shows_submitted_executions_filters_pages_and_refreshes(site: Site) -> None:
    client = site.client
    done = client.submit(template("echo"), seconds(1.5), project="shop", name="first")
    assert done.wait(60) is Phase.SUCCESS
    browser = site.open("/")
    assert until(browser, lambda d: row_phase(d, done.id)) == "SUCCESS"
    row = browser.find_element(By.CSS_SELECTOR, f'tr[data-id="{done.id}"]')
    assert "echo" in row.text
    site.shot("list")

    # It refreshes by itself: an execution submitted now appears without a reload.
    browser.execute_script("window.notReloaded = true")
    held = client.submit(template("http_job"), seconds(60), project="shop", name="held")
    assert until(browser, lambda d: row_phase(d, held.id) == "RUNNING")
    assert browser.execute_script("return window.notReloaded") is True
    # Above the table, what is in flight now and what has ended, from the store's counts.
    summary = until(browser, lambda d: d.find_element(By.ID, "summary").text)
    assert "RUNNING 1" in summary
    assert "SUCCESS 1" in summary
    site.shot("list-refreshed")

    # Filters: by phase, task type, project and domain, from the form.
    Select(browser.find_element(By.ID, "filter-phase")).select_by_visible_text("RUNNING")
    browser.find_element(By.CSS_SELECTOR, "form.filters button").click()
    # The filtered page: the running one alone (the page before held both).
    until(
        browser,
        lambda d: (
            "phase=RUNNING" in d.current_url
            and row_phase(d, held.id) == "RUNNING"
            and row_phase(d, done.id) is None
        ),
    )
    site.open("/?type=echo&project=shop&domain=development")
    assert row_phase(browser, done.id) == "SUCCESS"
    assert row_phase(browser, held.id) is None
    # Flower without the status polls: the held execution's Gets are in Flower, and the
    # console's "Flower without polls" link leaves them out and keeps its Create.
    links = browser.find_element(By.ID, "flower-changes").get_attribute("href")
    assert links is not None
    # Flower's list loads once and does not refresh: open it once a Get has run (the first
    # comes a resync after the Create).
    wait_for(lambda: flower_knows(site.flower, "flyte_celery.get"), timeout=60)
    browser.get(site.flower + "/tasks?name=flyte_celery.get")
    until(browser, lambda d: "flyte_celery.get" in flower_table(d))
    browser.get(links)
    until(browser, lambda d: "flyte_celery.create" in flower_table(d))
    assert "flyte_celery.get" not in flower_table(browser)
    site.open("/?project=nobody")
    assert "No executions match these filters." in site.text("#executions")

    # Pages: newest first, two per page, through the "older" links to the end.
    for i in range(3):
        client.submit(template("echo"), seconds(0), project="paged", name=f"p{i}")
    seen: list[str] = []
    browser = site.open("/?project=paged&limit=2")
    while True:
        seen += [
            r.get_attribute("data-id")
            for r in browser.find_elements(By.CSS_SELECTOR, "tbody tr[data-id]")
        ]
        older = browser.find_elements(By.ID, "older")
        if not older:
            break
        browser.get(str(older[0].get_attribute("href")))  # returns once the page has loaded
    assert seen == ["paged/development/p2", "paged/development/p1", "paged/development/p0"]
    held.abort("test over")


def test_an_execution_page_shows_events_values_error_and_jobs(site: Site) -> None:
    client = site.client
    ok = client.submit(template("echo"), seconds(2.5), name="valued")
    bad = client.submit(sample.explode, {"message": "remote kaboom"}, name="broken")
    assert ok.wait(60) is Phase.SUCCESS
    assert bad.wait(120) is Phase.PERMANENT_FAILURE
    browser = site.open("/")
    until(browser, lambda d: row_phase(d, ok.id) == "SUCCESS")
    browser.find_element(By.LINK_TEXT, ok.id).click()
    until(browser, lambda d: d.find_elements(By.ID, "events"))
    assert site.text("#execution-id") == ok.id
    assert site.text("#phase") == "SUCCESS"
    events = site.text("#events")
    assert "submitted" in events
    assert "SUCCESS" in events
    assert "seconds 2.5" in site.text("#inputs")
    assert "seconds 2.5" in site.text("#outputs")
    # The job that wrote SUCCESS is linked to its page in Flower.
    jobs = browser.find_elements(By.CSS_SELECTOR, "#events a.job")
    assert jobs
    href = jobs[0].get_attribute("href")
    assert href is not None
    assert href.startswith(site.flower + "/task/")
    flower_list = browser.find_element(By.ID, "flower-jobs").get_attribute("href")
    assert flower_list is not None
    site.shot("execution")
    # Read-only: nobody is signed in, so there is no abort button on a running one.
    assert not browser.find_elements(By.ID, "abort")

    # The list shows the task's name, and sums an error up as what the task raised (not
    # the wrapper's first line); the execution's page shows all of it.
    site.open("/?phase=PERMANENT_FAILURE")
    listed = site.text(f'tr[data-id="{bad.id}"]')
    assert "tests.tasks.sample.explode" in listed
    assert "ValueError: remote kaboom" in listed
    assert "Traceback" not in listed
    assert "Error encountered" not in listed
    # The task's name links to its executions alone.
    browser.find_element(By.LINK_TEXT, "tests.tasks.sample.explode").click()
    until(browser, lambda d: "task=tests.tasks.sample.explode" in d.current_url)
    assert row_phase(browser, bad.id) == "PERMANENT_FAILURE"
    assert row_phase(browser, ok.id) is None
    assert browser.find_element(By.ID, "filter-task").get_attribute("value") == (
        "tests.tasks.sample.explode"
    )
    browser.find_element(By.LINK_TEXT, bad.id).click()
    until(browser, lambda d: d.find_elements(By.ID, "error"))
    assert site.text("#phase") == "PERMANENT_FAILURE"
    assert site.text("#task-name") == "tests.tasks.sample.explode"
    assert site.text("#reason") == "ValueError: remote kaboom"  # what was raised, in one line
    assert "Error encountered" not in site.text("#events")
    # What it ran: the template's type, id, retries and interface, and its custom (folded).
    task = site.text("#template")
    assert "python-task" in task
    assert "tests.tasks.sample.explode" in task
    assert "message" in site.text("#interface") and "string" in site.text("#interface")
    custom = browser.find_element(By.ID, "custom").get_attribute("textContent") or ""
    assert "loader_args" in custom and "tests.tasks.sample" in custom
    # The timeline: one lane (attempt 0) through QUEUED ... to PERMANENT_FAILURE.
    lanes = browser.find_elements(By.CSS_SELECTOR, "#timeline .lane")
    assert [lane.get_attribute("data-attempt") for lane in lanes] == ["0"]
    phases = [
        seg.get_attribute("data-phase") for seg in lanes[0].find_elements(By.CSS_SELECTOR, ".seg")
    ]
    assert phases[0] == "QUEUED" and phases[-1] == "PERMANENT_FAILURE", phases
    assert len(phases) == len(set(phases))  # one segment per phase, versions inside it
    error = site.text("#error")
    assert "remote kaboom" in error
    assert "Traceback (most recent call last)" in error
    assert "raise ValueError(message)" in error
    site.shot("failed")

    # Flower knows the job the console links to.
    site.browser.get(href)
    site.shot("flower")
    until(site.browser, lambda d: ok.id in d.page_source)
    # Flower's list, searched from the console's link: this execution's jobs, no other's.
    site.browser.get(flower_list)
    until(site.browser, lambda d: ok.id in flower_table(d))
    assert bad.id not in flower_table(site.browser)
    site.shot("flower-searched")


def test_abort_and_signal_from_the_page_need_a_signed_in_user(site: Site) -> None:
    client = site.client
    held = client.submit(template("http_job"), seconds(120), name="to-abort")
    wait_for(lambda: held.refresh().phase is Phase.RUNNING, timeout=60)
    page = "/executions/" + held.id

    # A POST with a valid XSRF token but no session: what a script or another user sends.
    status, body, _ = console_post(site.url, page + "/abort", {})
    assert status == 403
    assert "sign in to abort executions" in body
    assert held.refresh().phase is Phase.RUNNING
    status, body, _ = console_post(site.url, page + "/relaunch", {})
    assert status == 403
    assert "sign in to relaunch executions" in body

    browser = site.open(page)
    assert not browser.find_elements(By.ID, "abort")
    assert not browser.find_elements(By.ID, "relaunch")
    # The plugin's log link for the running job, to the job service's page of the job.
    link = until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#logs a.log"))[0]
    assert link.text == "job status"
    href = link.get_attribute("href") or ""
    assert href.startswith(f"{site.stack.job_service_url}/jobs/")
    assert href.rsplit("/", 1)[1] in (held.refresh().record.webapi.resource_meta or "")
    site.sign_in("ops", "wrong")
    failed = "Wrong name or password."
    until(browser, lambda d: failed in d.find_element(By.ID, "login-failed").text)
    browser.find_element(By.ID, "login-name").send_keys("ops")
    browser.find_element(By.ID, "login-password").send_keys(PASSWORD)
    browser.find_element(By.ID, "login-submit").click()
    until(browser, lambda d: d.find_elements(By.ID, "abort"))  # back on the page, signed in
    assert site.text("#signed-in") == "signed in as ops"

    browser.find_element(By.ID, "signal").click()
    until(browser, lambda d: "Signal sent" in d.find_element(By.ID, "done").text)
    assert held.refresh().phase is Phase.RUNNING

    browser.find_element(By.CSS_SELECTOR, 'input[name="reason"]').send_keys("wrong inputs")
    browser.find_element(By.ID, "abort").click()
    # Until the page the click leads to replaces this one (which says "Signal sent").
    until(browser, lambda d: "Abort requested" in d.find_element(By.ID, "done").text)
    # The page refreshes itself until the execution ends.
    until(browser, lambda d: d.find_element(By.ID, "phase").text == "ABORTED", timeout=90)
    site.shot("aborted")
    assert held.wait(30) is Phase.ABORTED
    assert held.record.reason == "wrong inputs (by ops)"
    assert not browser.find_elements(By.ID, "abort")

    # Relaunch: a new execution of the same template and inputs, in the same project.
    browser.find_element(By.ID, "relaunch").click()
    until(browser, lambda d: "Relaunched from" in d.find_element(By.ID, "done").text)
    again_id = site.text("#execution-id")
    assert again_id != held.id and again_id.startswith(f"{held.record.project}/")
    again = client.get(again_id)
    assert again.task_name == held.task_name
    assert client.inputs(again.record) == client.inputs(held.record)
    assert again.template() == held.template()
    wait_for(lambda: again.refresh().phase is Phase.RUNNING, timeout=60)
    again.abort("test over")


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except (urllib.error.URLError, ConnectionError) as exc:
        return 0, str(exc)  # not listening (yet)


def test_bad_requests_get_a_page_naming_what_is_wrong(site: Site) -> None:
    code, body = fetch(site.url + "/?phase=NOPE")
    assert code == 400
    assert "unknown phase &#x27;NOPE&#x27;" in body
    code, body = fetch(site.url + "/?after=garbage")
    assert code == 400
    assert "malformed page cursor" in body
    code, body = fetch(site.url + "/?limit=0")
    assert code == 400
    code, body = fetch(site.url + "/executions/no/such/execution")
    assert code == 404
    assert "no execution &#x27;no/such/execution&#x27;" in body
    assert fetch(site.url + "/healthz") == (200, "ok\n")


def test_the_console_survives_redis_going_away_and_coming_back(tmp_path: Path) -> None:
    (tmp_path / "redis").mkdir()
    server = RedisServer.start(tmp_path / "redis", persistence=True)
    port = free_port()
    env = dict(os.environ, FLYTE_CELERY_REDIS_URL=server.url,
               FLYTE_CELERY_STORAGE=f"file://{tmp_path / 'storage'}")  # fmt: skip
    log = (tmp_path / "console.log").open("ab")
    console = subprocess.Popen(
        [sys.executable, "-m", "scheduler.cli", "console", f"--port={port}"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    log.close()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: fetch(url + "/healthz")[0] == 200, timeout=60, what="the console")
        assert "read-only" in fetch(url + "/")[1]
        server.kill()
        code, body = fetch(url + "/")
        assert code == 503
        assert "Redis" in body
        assert fetch(url + "/healthz")[0] == 503
        server.start_again()
        wait_for(lambda: fetch(url + "/")[0] == 200, timeout=60, what="the list again")
        assert console.poll() is None
    finally:
        console.terminate()
        console.wait(30)
        server.stop()
