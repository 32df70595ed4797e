"""The dashboard in a real browser: Debian's Chromium driven by Playwright against `streamlit run`."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.browser


def _require_browser() -> str:
    if CHROMIUM is None:
        if os.environ.get("SERVICELENS_REQUIRE_BROWSER", "").lower() in {"1", "true", "yes"}:
            pytest.fail("Chromium is required (SERVICELENS_REQUIRE_BROWSER=1) but not installed")
        pytest.skip("Chromium not installed (apt-get install chromium)")
    return CHROMIUM


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def dashboard_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    _require_browser()
    tmp = tmp_path_factory.mktemp("browser")
    env = {**os.environ, "SERVICELENS_DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite'}"}
    env.pop("SERVICELENS_CONFIG", None)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "servicelens.cli",
            "demo",
            "--interactions",
            "3000",
            "--out",
            str(tmp / "exports"),
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "dashboard.py",
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_overview_renders_in_chromium(dashboard_url: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=_require_browser(),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(dashboard_url, wait_until="networkidle", timeout=60_000)
        page.get_by_text("CSAT").first.wait_for(timeout=60_000)
        body = page.inner_text("body")
        shots = Path(os.environ.get("SERVICELENS_SCREENSHOTS", str(tmp_path)))
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / "overview.png"), full_page=True)
        browser.close()
    assert "Overview" in body
    assert "n =" in body
    assert "Traceback" not in body and "Error" not in body.split("CSAT")[0]
