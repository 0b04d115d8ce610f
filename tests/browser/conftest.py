"""The real stack (retrieval, routing, intake, a Celery worker) and Debian's chromium driven by Playwright.

Chromium comes from Debian (`make setup` installs it; here it is installed when missing and we are root), never from
`playwright install`: these machines are offline but for the package mirrors.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from linli.grpc_serving import ServerHandle
from linli.settings import ProcessSettings
from services.intake.database import Database
from services.intake.settings import IntakeSettings
from services.routing.server import create_server as create_routing
from tests.conftest import BROWSER_REDIS_SLOT, redis_db
from tests.integration.conftest import (  # noqa: F401  (fixtures used by name)
    ChildProcesses,
    RunningIntake,
    corpus_slice,
    intake_settings_for,
    retrieval_server,
    running_intake,
    settings_env,
)
from tests.local_servers import routing_settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
OPEN311_KEY = "browser-open311-key"
# The screens under test show a routed party: the router decides with the threshold it shipped with before
# training-time tuning (a model tuned on the tests' small corpus slice abstains on nearly everything).
ROUTING_MIN_CONFIDENCE = 0.6
READY_SECONDS = 180.0


def chromium_path() -> str | None:
    """Debian's chromium, installed first when missing and we may (root)."""
    found = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if found is None and os.geteuid() == 0:
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "chromium", "fonts-wqy-microhei"],
            check=False,
            capture_output=True,
            timeout=900,
        )
        found = shutil.which("chromium")
    return found


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Headless chromium; the suite is skipped, saying why, when it cannot be installed."""
    path = chromium_path()
    if path is None:
        pytest.skip("no chromium: `apt-get install chromium` needs root (run `make setup` as root once)")
    launched = playwright.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
    yield launched
    launched.close()


@pytest.fixture(scope="module")
def browser_routing_server(
    retrieval_server: ServerHandle,  # noqa: F811
    corpus_slice: Path,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServerHandle]:
    """Routing as the integration tests start it, with a fixed abstention threshold."""
    settings = routing_settings(
        retrieval_server.port,
        tmp_path_factory.mktemp("models") / "routing",
        train_corpus=corpus_slice,
        min_confidence=ROUTING_MIN_CONFIDENCE,
        rpc_timeout_seconds=30.0,  # training embeds the slice through retrieval, slow on a busy machine
    )
    handle = create_routing(settings, process=ProcessSettings.from_environment())
    assert handle.wait_ready(READY_SECONDS), f"routing did not become ready: {handle.load_error}"
    yield handle
    handle.stop(0)


@dataclass
class Stack:
    """The running services and what the browser tests need to know about them."""

    intake: RunningIntake
    settings: IntakeSettings
    database: Database

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.http_port}"


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory,
    redis_base_url: str,
    retrieval_server: ServerHandle,  # noqa: F811
    browser_routing_server: ServerHandle,
) -> Iterator[Stack]:
    """Intake on SQLite with Redis as the broker, its HTTP app under uvicorn, and one triage worker."""
    folder = tmp_path_factory.mktemp("browser")
    # Apart from the database other tests flush, so that they cannot empty this suite's queue.
    broker = f"{redis_base_url}/{redis_db(BROWSER_REDIS_SLOT)}"
    redis.Redis.from_url(broker).flushdb()
    settings = intake_settings_for(
        f"sqlite:///{folder / 'tickets.sqlite'}",
        broker,
        browser_routing_server.port,
        retrieval_server.port,
        open311_api_keys={OPEN311_KEY: "browser-test"},
    )
    # The pages' endpoints read intake's settings from the environment, as `linli intake` gives them.
    environment = pytest.MonkeyPatch()
    for name, value in settings_env(settings).items():
        if name.startswith("LINLI_INTAKE_"):
            environment.setenv(name, value)
    children = ChildProcesses(folder)
    database = Database(settings.database_url)
    try:
        with running_intake(settings) as running:
            children.start("worker", settings)
            yield Stack(running, settings, database)
    finally:
        children.stop_all()
        database.dispose()
        environment.undo()


@pytest.fixture
def phone(browser: Browser, stack: Stack) -> Iterator[Page]:
    """A resident's phone: 375 px wide, Chinese locale."""
    context = browser.new_context(
        viewport={"width": 375, "height": 812}, locale="zh-CN", base_url=stack.url, device_scale_factor=1
    )
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def desk(browser: Browser, stack: Stack) -> Iterator[Page]:
    """A worker's desk screen."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN", base_url=stack.url)
    page = context.new_page()
    yield page
    context.close()


def screenshot(page: Page, name: str) -> Path:
    """Saves the whole page under test-output/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
