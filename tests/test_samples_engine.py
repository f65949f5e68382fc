"""Every sample builds, loads into a real Docker Engine and runs with its expected output."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import SAMPLES
from pybuild import api
from pybuild.oci.validate import validate_archive
from pybuild.outputs.spec import parse_output
from servers import free_port

RUNNABLE = ["hello", "greet"]


def build(name: str, out: Path) -> api.BuildResult:
    return api.build(
        api.BuildOptions(
            context=SAMPLES / name,
            tags=(f"pybuild-sample-{name}:test",),
            output=parse_output(str(out)),
        )
    )


@pytest.mark.engine
@pytest.mark.parametrize("name", RUNNABLE)
def test_sample_runs_with_expected_output(engine, tmp_path, name):
    archive = tmp_path / "image.tar"
    result = build(name, archive)
    validate_archive(archive)
    engine.load(archive)
    assert engine.inspect(f"pybuild-sample-{name}:test")["Id"] == result.image_id
    run = engine.run(f"pybuild-sample-{name}:test")
    assert run.returncode == 0, run.stderr.decode()
    assert run.stdout.decode() == (SAMPLES / name / "expected-output").read_text()


@pytest.mark.engine
def test_greet_cmd_is_replaced_by_run_arguments(engine, tmp_path):
    archive = tmp_path / "image.tar"
    build("greet", archive)
    engine.load(archive)
    run = engine.run("pybuild-sample-greet:test", "Ada", "Grace")
    assert run.stdout.decode() == "Hello, Ada!\nHello, Grace!\n"


@pytest.mark.engine
def test_history_reads_like_the_dockerfile(engine, tmp_path):
    archive = tmp_path / "image.tar"
    build("greet", archive)
    engine.load(archive)
    history = (
        engine.docker(
            "history", "--no-trunc", "--format", "{{.CreatedBy}}", "pybuild-sample-greet:test"
        )
        .stdout.decode()
        .splitlines()
    )
    assert history == [
        'CMD ["world"]',
        'ENTRYPOINT ["/opt/greet/bin/greet"]',
        "COPY greet bin/",
        "WORKDIR ${GREETER_HOME}",
        "ENV GREETER_HOME=/opt/greet",
    ]


@pytest.mark.engine
def test_webserver_serves_its_page(engine, tmp_path):
    busybox = SAMPLES / "webserver" / "busybox"
    if not busybox.exists():
        made = subprocess.run(
            ["make", "-C", str(SAMPLES), "webserver/busybox"], capture_output=True
        )
        if made.returncode != 0:
            pytest.fail(f"need busybox-static for the web server sample: {made.stderr.decode()}")
    archive = tmp_path / "image.tar"
    result = build("webserver", archive)
    assert len(result.written.layers) == 2
    engine.load(archive)
    port = free_port()
    name = f"pybuild-web-{port}"
    engine.docker(
        "run",
        "-d",
        "--rm",
        "--network",
        "host",
        "--name",
        name,
        "pybuild-sample-webserver:test",
        "-p",
        f"127.0.0.1:{port}",
    )
    try:
        page = None
        for _ in range(50):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    page = response.read().decode()
                break
            except OSError:
                time.sleep(0.2)
        assert page == (SAMPLES / "webserver" / "www" / "index.html").read_text()
    finally:
        engine.docker("rm", "-f", name, check=False)


@pytest.mark.engine
def test_a_session_leaves_no_untagged_images_behind(engine, tmp_path):
    """Two classic builds under one tag leave the first image untagged (dangling), and a
    multi-stage one leaves its other stage: removing a session's images removes those too."""
    from engine import Engine

    session = Engine(engine.env)  # its own record of what the engine held before
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "a").write_text("a\n")
    for text in ("one", "two"):
        (context / "Dockerfile").write_text(
            f"FROM scratch AS first\nCOPY a /{text}\nFROM scratch\nCOPY --from=first /{text} /b\n"
        )
        built = session.classic_build(context, context / "Dockerfile", "pybuild-dangling:1")
        assert built.returncode == 0, built.stderr
    assert session.untagged() - session.before, "the builds left untagged images"
    session.remove_images()
    assert not session.untagged() - session.before
