"""Progress on stderr in each mode buildx names: plain lines, a redrawn tty line, JSON events."""

from __future__ import annotations

import io
import json
import subprocess
import sys

from conftest import SAMPLES
from pybuild.progress import JsonProgress, PlainProgress, TtyProgress, make_progress


def drive(progress) -> None:
    progress.layer_started(1, 2, "COPY a /a", files=2, size=300)
    progress.advanced(1, 100)
    progress.advanced(1, 200)
    progress.layer_finished("sha256:d", "sha256:g", 512, cached=False)
    progress.layer_started(2, 2, "COPY b /b", files=1, size=5)
    progress.layer_finished("sha256:d2", "sha256:g2", 10, cached=True)


def test_plain_prints_a_line_per_layer():
    out = io.StringIO()
    drive(PlainProgress(out))
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("[1/2] COPY a /a: 2 files, 300 bytes") and lines[0].endswith(
        "-> sha256:g"
    )
    assert lines[1] == "[2/2] COPY b /b: cached -> sha256:g2"


def test_tty_redraws_one_line_then_leaves_the_summary():
    out = io.StringIO()
    drive(TtyProgress(out))
    text = out.getvalue()
    assert "\r\x1b[K[1/2] COPY a /a  0/2 files" in text
    assert text.endswith("[2/2] COPY b /b: cached -> sha256:g2\n")


def test_json_events_and_quiet():
    out = io.StringIO()
    drive(JsonProgress(out))
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [e["event"] for e in events] == ["layer_started", "layer_finished"] * 2
    assert events[3]["cached"] is True
    quiet = io.StringIO()
    drive(make_progress("quiet", quiet))
    assert quiet.getvalue() == ""


def test_cli_progress_json_reports_every_layer(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pybuild",
            "--progress",
            "json",
            "-t",
            "w:1",
            "-o",
            str(tmp_path / "w.tar"),
            str(SAMPLES / "greet"),
        ],
        capture_output=True,
        text=True,
    )
    events = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert [e["event"] for e in events] == ["layer_started", "layer_finished"] * 2
    quiet = subprocess.run(
        [
            sys.executable,
            "-m",
            "pybuild",
            "-q",
            "-t",
            "w:1",
            "-o",
            str(tmp_path / "q.tar"),
            str(SAMPLES / "greet"),
        ],
        capture_output=True,
        text=True,
    )
    assert quiet.stderr == "" and quiet.stdout.startswith("sha256:")
