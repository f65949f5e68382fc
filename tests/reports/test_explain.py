"""explain: its JSON agrees with the archive it describes; its HTML renders in real headless
Chromium (the screenshot is kept in $PYBUILD_TEST_ARTIFACTS, else a temporary directory) and
shows the archive's digests."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from conftest import ARTIFACTS, IN_CI, SAMPLES
from pybuild import api
from pybuild.oci.validate import validate_archive
from pybuild.outputs.spec import parse_output


@pytest.fixture(scope="module", autouse=True)
def busybox():
    if not (SAMPLES / "webserver" / "busybox").exists():
        subprocess.run(["make", "-C", str(SAMPLES), "webserver/busybox"], check=True)


def explain_with_archive(tmp_path: Path, sample: str) -> tuple[dict, dict]:
    archive = tmp_path / "image.tar"
    document, _ = api.explain(
        api.BuildOptions(
            context=SAMPLES / sample, tags=(f"{sample}:1",), output=parse_output(str(archive))
        )
    )
    with tarfile.open(archive) as tar:  # the image ID is the sha256 of the config bytes
        config_path = json.loads(tar.extractfile("manifest.json").read())[0]["Config"]
        assert (
            document["image_id"]
            == "sha256:" + hashlib.sha256(tar.extractfile(config_path).read()).hexdigest()
        )
    return document, validate_archive(archive).config


@pytest.mark.parametrize("sample", ["hello", "greet", "webserver"])
def test_explain_json_agrees_with_the_archive(tmp_path, sample):
    document, config = explain_with_archive(tmp_path, sample)
    layers = [item["layer"] for item in document["instructions"] if item["layer"]]
    assert (
        [layer["diff_id"] for layer in layers]
        == config["rootfs"]["diff_ids"]
        == document["diff_ids"]
    )
    assert document["config"] == config
    history = [item["history"] for item in document["instructions"] if item["history"]]
    assert [h["created_by"] for h in history] == [h["created_by"] for h in config["history"]]


def test_explain_reports_changes_scope_and_who_set_what(tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "a.txt").write_text("a")
    (context / "skip.log").write_text("x")
    (context / ".dockerignore").write_text("*.log\n")
    (context / "Dockerfile").write_text(
        "FROM scratch AS build\nCOPY a.txt /built\n"
        "FROM scratch\nARG V=1\nENV A=$V\nLABEL x=y\nCOPY --from=build /built /a\nEXPOSE 80\n"
    )
    document, _ = api.explain(api.BuildOptions(context=context))
    by_line = {item["line"]: item for item in document["instructions"]}
    assert by_line[2]["layer"]["in_image"] is False  # another stage's layer
    assert by_line[2]["layer"]["excluded_by_dockerignore"] == []
    assert by_line[7]["layer"]["in_image"] is True
    assert by_line[4]["variables"]["V"] == "1"
    assert by_line[5]["config_changes"][0]["path"] == "config.Env"
    assert by_line[5]["variables"]["A"] == "1"
    assert by_line[6]["config_changes"] == [
        {"path": "config.Labels.x", "before": None, "after": "y"}
    ]
    assert by_line[8]["config_changes"] == [
        {"path": "config.ExposedPorts.80/tcp", "before": None, "after": {}}
    ]
    assert document["config_set_by"]["config.Labels.x"] == [6]
    (context / "Dockerfile").write_text("FROM scratch\nCOPY . /all/\n")
    document, _ = api.explain(api.BuildOptions(context=context))
    assert document["instructions"][1]["layer"]["excluded_by_dockerignore"] == ["skip.log"]
    assert set(document["digests"]) == {"diff_id", "digest", "image_id", "manifest_digest"}


def test_explain_cli_text_and_json(tmp_path):
    text = subprocess.run(
        [sys.executable, "-m", "pybuild", "explain", str(SAMPLES / "greet")],
        capture_output=True,
        text=True,
    )
    assert text.returncode == 0, text.stderr
    assert "COPY greet bin/" in text.stdout and "<- greet" in text.stdout
    assert "image ID         sha256:" in text.stdout
    report = tmp_path / "e.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pybuild",
            "explain",
            "--format",
            "json",
            "-o",
            str(report),
            str(SAMPLES / "greet"),
        ],
        capture_output=True,
    )
    assert result.returncode == 0 and json.loads(report.read_text())["schema_version"] == 1
    assert list(tmp_path.iterdir()) == [report]  # no archive unless --image


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    if IN_CI:
        pytest.fail("CI needs chromium (.ci/run installs Debian's)")
    pytest.skip("no chromium installed (apt-get install chromium)")


def run_chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_html_report_renders_in_headless_chromium(tmp_path):
    document, config = explain_with_archive(tmp_path, "webserver")
    from pybuild.reports.html import render_html

    page = tmp_path / "report.html"
    page.write_text(render_html(document), encoding="utf-8")
    assert not re.search(r"\b(src|href)=|url\(|@import", page.read_text()), (
        "the page is self-contained: nothing to load"
    )
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "explain-webserver.png"
    screenshot.unlink(missing_ok=True)
    shot = run_chromium(
        tmp_path, "--window-size=1400,1000", f"--screenshot={screenshot}", f"file://{page}#line-5"
    )
    assert screenshot.exists() and screenshot.stat().st_size > 10_000, shot.stderr[-500:]
    dom = run_chromium(tmp_path, "--dump-dom", f"file://{page}#line-5").stdout
    shown = re.findall(r'<span class="diff_id">(sha256:[0-9a-f]{64})</span>', dom)
    assert shown == config["rootfs"]["diff_ids"]
    assert re.search(r'id="image-id">(sha256:[0-9a-f]{64})<', dom).group(1) == document["image_id"]
    selected = re.findall(r'class="step selected" data-line="(\d+)"', dom)
    assert selected == ["5"], "the #line-5 address selects that instruction's output"


def test_the_archive_anatomy_is_the_archive_written(tmp_path):
    """explain's `archive` shows the very documents in the tar, in the order a reader follows
    them, each layer blob placed at the line that made it."""
    document, config = explain_with_archive(tmp_path, "webserver")
    found = document["archive"]
    with tarfile.open(tmp_path / "image.tar") as tar:
        for item in found["documents"]:
            assert json.loads(tar.extractfile(item["name"]).read()) == item["json"]
        names = set(tar.getnames())
    assert [item["name"] for item in found["documents"][:3]] == [
        "oci-layout",
        "index.json",
        "manifest.json",
    ]
    manifest, image_config = found["documents"][3]["json"], found["documents"][4]["json"]
    assert found["documents"][4]["digest"] == document["image_id"] and image_config == config
    assert [layer["digest"] for layer in found["layers"]] == [
        blob["digest"] for blob in manifest["layers"]
    ]
    assert all(layer["name"] in names for layer in found["layers"])
    lines = {item["line"] for item in document["instructions"] if item["layer"]}
    assert {layer["line"] for layer in found["layers"]} <= lines


@pytest.mark.parametrize(
    ("instructions", "argv", "note"),
    [
        ('CMD ["/app", "-v"]', ["/app", "-v"], None),
        ("CMD /app -v", ["/bin/sh", "-c", "/app -v"], "CMD is in shell form"),
        ('ENTRYPOINT ["/app"]\nCMD ["--help"]', ["/app", "--help"], "default arguments"),
        ("ENTRYPOINT /app\nCMD -h", ["/bin/sh", "-c", "/app"], "are ignored"),
        ("LABEL a=b", [], "must be given a command"),
    ],
)
def test_what_runs_is_what_docker_run_starts(tmp_path, instructions, argv, note):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM scratch\nUSER 1000\nWORKDIR /srv\n{instructions}\n")
    document, _ = api.explain(api.BuildOptions(context=context, cache_dir=None))
    runs = document["runs"]
    assert runs["argv"] == argv and runs["user"] == "1000" and runs["workdir"] == "/srv"
    assert runs["set_by"]["User"] == [2] and runs["set_by"]["WorkingDir"] == [3]
    assert note is None or any(note in text for text in runs["notes"])


@pytest.mark.parametrize(
    ("epoch", "option", "source", "created"),
    [
        (None, None, "the default", "1970-01-01T00:00:00Z"),
        ("1700000000", None, "SOURCE_DATE_EPOCH=1700000000", "2023-11-14T22:13:20Z"),
        ("1700000000", "86400", "--timestamp=86400", "1970-01-02T00:00:00Z"),
    ],
)
def test_explain_says_which_time_went_in_and_why(tmp_path, epoch, option, source, created):
    document, _ = api.explain(
        api.BuildOptions(
            context=SAMPLES / "hello",
            cache_dir=None,
            source_date_epoch=epoch,
            timestamp=option,
        )
    )
    assert document["time"]["source"].startswith(source)
    assert document["time"]["created"] == document["config"]["created"] == created


def test_copy_from_rows_name_the_stage_and_directories_count(tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "a.txt").write_text("hi\n")
    (context / "Dockerfile").write_text(
        "FROM scratch AS build\nCOPY a.txt /out/a.txt\n"
        "FROM scratch\nWORKDIR /srv\nCOPY --from=build /out/a.txt /srv/\n"
    )
    document, _ = api.explain(api.BuildOptions(context=context, cache_dir=None))
    from pybuild.reports.explain import contents

    workdir, copied = (item["layer"] for item in document["instructions"][3:5])
    assert contents(workdir) == "1 directory" and contents(copied) == "1 file, 1 directory"
    assert [row["source"] for row in copied["files"]] == [None, "build:/out/a.txt"]


def test_the_html_page_fits_a_1366_screen_and_links_the_archive(tmp_path):
    """Laid out by real Chromium at 1366 px: nothing wider than the window (no horizontal
    scroll); every digest link of the archive section points at a blob shown on the page."""
    document, _ = explain_with_archive(tmp_path, "webserver")
    from pybuild.reports.html import render_html

    page = tmp_path / "report.html"
    page.write_text(render_html(document), encoding="utf-8")
    dom = run_chromium(tmp_path, "--window-size=1366,768", "--dump-dom", f"file://{page}").stdout
    width = re.search(r'data-scroll-width="(\d+)" data-viewport="(\d+)"', dom)
    assert width, "the page measured itself"
    assert int(width.group(1)) <= int(width.group(2)) == 1366
    targets = set(re.findall(r'data-to="(blob-[0-9a-f]{64})"', dom))
    anchors = set(re.findall(r'id="(blob-[0-9a-f]{64})"', dom))
    assert targets and targets <= anchors
    assert re.search(r'class="set-by" data-line="\d+"', dom)
