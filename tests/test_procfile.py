"""The Procfile `make serve-prod` runs: honcho accepts it, and it starts the web server and
the workers with their counts taken from the environment."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _processes() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    entries = [line.split(":", 1) for line in lines if line and not line.startswith("#")]
    return {name.strip(): command.strip() for name, command in entries}


def test_honcho_accepts_the_procfile():
    honcho = Path(sys.executable).with_name("honcho")
    result = subprocess.run(
        [str(honcho), "check", "-f", "Procfile"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "web, worker" in result.stderr + result.stdout


def test_the_web_and_worker_processes_take_their_counts_from_the_environment():
    processes = _processes()
    assert processes["web"].startswith("python -m gunicorn config.wsgi")
    assert "${WEB_CONCURRENCY:-2}" in processes["web"]
    assert "${WEB_THREADS:-4}" in processes["web"]
    assert processes["worker"] == "python manage.py qcluster"
    makefile = (ROOT / "Makefile").read_text()
    assert "-c worker=$(WORKER_COUNT)" in makefile
