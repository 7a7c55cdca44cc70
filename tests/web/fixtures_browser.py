"""Browser tests: Playwright (Python) driving Debian's Chromium against a live server.

Screenshots go to test-output/screenshots/ (not committed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Playwright's sync API keeps an asyncio loop on this thread; our test code is still
# synchronous, so Django's async-safety guard does not apply here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("AGREGA_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
PASSWORD = "senha-de-teste-123"


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: `./run test` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        yield browser
        browser.close()


@pytest.fixture
def make_user(transactional_db):
    from django.contrib.auth import get_user_model

    from agrega.core.roles import assign_role

    def make(username: str, role: str):
        user = get_user_model().objects.create_user(username, f"{username}@example.com.br", PASSWORD)
        assign_role(user, role)
        return user

    return make


@pytest.fixture
def page(browser, live_server):
    """A browser page; the test fails if the page broke the Content-Security-Policy
    (an inline script or an eval refused) or threw a JavaScript error."""
    context = browser.new_context(base_url=live_server.url, locale="pt-BR", viewport={"width": 1400, "height": 900})
    context.set_default_timeout(10_000)
    # expect() waits as long as an action may: a shared CI machine can take seconds to
    # answer a poll (the default 5 s made live-state assertions flaky under load)
    from playwright.sync_api import expect

    expect.set_options(timeout=10_000)
    page = context.new_page()
    problems = []
    page.on("console", lambda message: problems.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.on("pageerror", lambda error: problems.append(f"JavaScript error: {error}"))
    yield page
    context.close()
    assert not problems, problems


@pytest.fixture
def login(page):
    def do(username: str, password: str = PASSWORD):
        page.goto("/entrar/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        return page

    return do


@pytest.fixture
def screenshot(page):
    def shot(name: str):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    return shot


# Filled by test_a11y.py: one entry per page and size ({"page", "size", "violations", "overflow"}).
A11Y_RESULTS: list[dict] = []
IMPACTS = ("critical", "serious", "moderate", "minor")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """axe-core's violations by impact, per page and size, and the phone's sideways
    overflow, like the fault table of tests/faults."""
    if not A11Y_RESULTS:
        return
    write = terminalreporter.write_line
    terminalreporter.write_sep("=", "axe-core violations by impact (nodes) and phone overflow")
    write(f"{'page':<42} {'size':<6} " + " ".join(f"{i[:4]:>5}" for i in IMPACTS) + "  overflow  rules")
    totals = {(size, i): 0 for size in ("desk", "phone") for i in IMPACTS}
    for r in A11Y_RESULTS:
        counts = {i: sum(v["count"] for v in r["violations"] if v["impact"] == i) for i in IMPACTS}
        for i in IMPACTS:
            totals[(r["size"], i)] += counts[i]
        rules = ",".join(sorted({v["id"] for v in r["violations"]}))
        write(f"{r['page'][:42]:<42} {r['size']:<6} " + " ".join(f"{counts[i]:>5}" for i in IMPACTS)
              + f"  {r['overflow']:>8}  {rules}")
    for size in ("desk", "phone"):
        pages = sum(1 for r in A11Y_RESULTS if r["size"] == size)
        if pages:
            write(f"total {size} ({pages} pages): " + ", ".join(f"{totals[(size, i)]} {i}" for i in IMPACTS))


@pytest.fixture
def task_runner(transactional_db):
    """The task worker's part for browser tests: a thread of the test process runs the
    queued background tasks (agrega/core/tasks.py) while the page follows them, as
    `agrega worker`'s task process does beside a real web server."""
    import threading

    from django.db import connection

    from agrega.core.tasks import run_ready_tasks

    stop = threading.Event()
    failures = []

    def loop():
        try:
            while not stop.is_set():
                run_ready_tasks()
                stop.wait(0.1)
        except Exception as exc:  # reported by the test, not lost in the thread
            failures.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=loop, name="test-task-runner", daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=30)
    assert not failures, failures
