"""Headless Chromium driven by Selenium, for the console's tests (and a form POST without it).

Debian's ``chromium`` and ``chromium-driver`` (``tests/run.sh`` installs them when
missing), started as the machine's notes say a sandboxed root process must start
them: no sandbox, and no background networking (the closed network refuses it).
"""

from __future__ import annotations

import http.cookiejar
import shutil
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from selenium import webdriver
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

T = TypeVar("T")

FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1300,1000",
]


@contextmanager
def chromium(profile: Path) -> Iterator[WebDriver]:
    """A headless Chromium with an empty profile in ``profile``."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        raise RuntimeError(
            "the console's tests need Debian's chromium and chromium-driver: "
            "bash tests/run.sh installs them (apt-get install chromium chromium-driver)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in [*FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    try:
        yield driver
    finally:
        driver.quit()


def until(driver: WebDriver, condition: Callable[[WebDriver], T], timeout: float = 60) -> T:
    """Wait (generously) until ``condition`` returns something truthy, and return it.

    An element missing, or gone stale because the page is being replaced (a click that
    navigates, the page's own refresh), only means "not yet".
    """
    wait = WebDriverWait(
        driver,
        timeout,
        poll_frequency=0.2,
        ignored_exceptions=(NoSuchElementException, StaleElementReferenceException),
    )
    result: T = wait.until(lambda d: _settled(condition, d))
    return result


def _settled(condition: Callable[[WebDriver], T], driver: WebDriver) -> T | None:
    # Chromedriver reports an element whose page was just replaced either as stale or,
    # when the replacement lands mid-command, as this "unknown error": both mean not yet.
    try:
        return condition(driver)
    except WebDriverException as exc:
        if "does not belong to the document" in (exc.msg or ""):
            return None
        raise


def console_post(console: str, path: str, form: dict[str, str]) -> tuple[int, str, str]:
    """POST ``form`` to the console as a script would, with a valid XSRF token (and no
    session unless the POST makes one): the status, the body, and the path it ended on.
    """
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(console + "/login", timeout=30).read()  # a page with a form: the XSRF cookie
    token = next(c.value for c in jar if c.name == "_xsrf")
    body = urllib.parse.urlencode({"_xsrf": token, **form}).encode()
    try:
        with opener.open(console + path, data=body, timeout=30) as done:
            return done.status, done.read().decode(), urllib.parse.urlsplit(done.geturl()).path
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), path
