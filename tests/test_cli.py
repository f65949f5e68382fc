"""The command line as users meet it: real processes, exit codes, messages, files left behind."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import SAMPLES


def pybuild(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pybuild", *args], capture_output=True, cwd=cwd)


def test_version():
    result = pybuild("--version")
    assert result.returncode == 0 and b"pybuild, version" in result.stdout
    # Answered before the CLI is imported: it must say what click's version option says.
    code = "from pybuild.cli import main; main(['--version'], prog_name='pybuild')"
    clicks = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert clicks.stdout == result.stdout


def test_build_and_build_subcommand_write_the_same_bytes(tmp_path):
    a, b = tmp_path / "a.tar", tmp_path / "b.tar"
    assert pybuild("-t", "hello:1", "-o", str(a), str(SAMPLES / "hello")).returncode == 0
    assert pybuild("build", "-t", "hello:1", "-o", str(b), str(SAMPLES / "hello")).returncode == 0
    assert a.read_bytes() == b.read_bytes()


def test_quiet_prints_only_the_image_id(tmp_path):
    result = pybuild("-q", "-t", "hello", "-o", str(tmp_path / "x.tar"), str(SAMPLES / "hello"))
    assert result.returncode == 0
    assert result.stdout.decode().strip().startswith("sha256:")
    assert len(result.stdout.decode().split()) == 1


def test_stdout_output_is_the_archive(tmp_path):
    result = pybuild("-t", "hello", "-o", "-", str(SAMPLES / "hello"))
    file = tmp_path / "f.tar"
    assert pybuild("-t", "hello", "-o", str(file), str(SAMPLES / "hello")).returncode == 0
    assert result.returncode == 0 and result.stdout == file.read_bytes()


def test_default_output_is_named_after_the_tag(tmp_path):
    result = pybuild("-t", "greet:1.0", str(SAMPLES / "greet"), cwd=tmp_path)
    assert result.returncode == 0
    assert (tmp_path / "greet-1.0.tar").is_file()
    assert result.stdout.decode().strip() == "greet-1.0.tar"


def write_case(tmp_path: Path, dockerfile: str) -> Path:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "a.txt").write_text("a")
    (context / "Dockerfile").write_text(dockerfile)
    return context


@pytest.mark.parametrize(
    "dockerfile, position, message",
    [
        ("FROM scratch\nCOPY missing.txt /x\n", "2:6", "file not found in build context"),
        ("FROM scratch\nCOPY ../x /x\n", "2:6", "outside the build context"),
        ("FROM scratch\nCOPY a.txt a.txt /x\n", "2:18", "must be a directory"),
        ("FROM scratch\nRUN make\n", "2:1", "never executes commands"),
        ("FROM scratch\nONBUILD FROM x\n", "2:1", "FROM isn't allowed as an ONBUILD trigger"),
        ("FROM scratch\nCOPY --from a.txt /x\n", "2:6", "missing a value on flag: --from"),
        (
            "FROM scratch\nCOPY --from=nowhere a.txt /x\n",
            "2:6",
            "not an earlier stage or a --build-context",
        ),
        ("FROM nosuchhost.invalid/x:1\n", "1:6", "cannot reach registry nosuchhost.invalid"),
        ("FROM scratch\nSTOPSIGNAL SIGNOPE\n", "2:12", "Invalid signal"),
        ("FROM scratch\nHEALTHCHECK --interval=1us CMD x\n", "2:13", "cannot be less than 1ms"),
        ("FROM ubuntu\n", "1:6", "cannot reach registry registry-1.docker.io"),
        ("FROM scratch\nENV A=1 B\n", "2:9", "can't find ="),
        ("FROM scratch\nBOGUS x\n", "2:1", "unknown instruction"),
        ("FROM scratch\nCOPY --frob=1 a.txt /x\n", "2:6", "unknown flag: --frob"),
        ('FROM scratch\nCMD ["a", 1]\n', "2:5", "strings only"),
        ("FROM scratch\nEXPOSE 99999\n", "2:8", "ports go up to 65535"),
        ("FROM scratch\nWORKDIR ${X:?must be set}\n", "2:9", "X: must be set"),
        ("COPY a.txt /\n", "1:1", "before FROM"),
    ],
)
def test_bad_input_gives_one_error_with_position_and_no_output(
    tmp_path, dockerfile, position, message
):
    context = write_case(tmp_path, dockerfile)
    out = tmp_path / "out.tar"
    result = pybuild("-t", "bad:1", "-o", str(out), str(context))
    stderr = result.stderr.decode()
    assert result.returncode == 1
    assert f"Dockerfile:{position}: " in stderr.splitlines()[0]
    assert message in stderr
    assert "Traceback" not in stderr
    assert "^" in stderr  # the caret under the source line
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [context]  # no temporary file left either


def test_missing_dockerfile_and_bad_tag_are_clear(tmp_path):
    result = pybuild("-t", "x", str(tmp_path))
    assert result.returncode == 1 and b"Dockerfile not found" in result.stderr
    context = write_case(tmp_path, "FROM scratch\n")
    result = pybuild("-t", "Not:Valid:Tag", str(context))
    assert result.returncode == 1 and b"invalid tag" in result.stderr


def test_failed_rebuild_keeps_the_previous_archive(tmp_path):
    context = write_case(tmp_path, "FROM scratch\nCOPY a.txt /a\n")
    out = tmp_path / "out.tar"
    assert pybuild("-t", "x", "-o", str(out), str(context)).returncode == 0
    before = out.read_bytes()
    (context / "Dockerfile").write_text("FROM scratch\nCOPY gone.txt /a\n")
    assert pybuild("-t", "x", "-o", str(out), str(context)).returncode == 1
    assert out.read_bytes() == before


def test_parse_command_formats(tmp_path):
    result = pybuild("parse", "--format", "buildkit", str(SAMPLES / "greet" / "Dockerfile"))
    assert result.returncode == 0
    assert result.stdout.decode().splitlines()[0] == '(from "scratch")'
    text = pybuild("parse", str(SAMPLES / "greet" / "Dockerfile")).stdout.decode()
    assert "5:1\tCOPY greet bin/" in text


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_build_leaves_nothing(tmp_path, signum):
    context = tmp_path / "ctx"
    context.mkdir()
    with open(context / "big.bin", "wb") as big:
        big.truncate(2 << 30)  # sparse: cheap to make, slow enough to interrupt
    (context / "Dockerfile").write_text("FROM scratch\nCOPY big.bin /big.bin\n")
    out = tmp_path / "out"
    out.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "pybuild", "-t", "big:1", "-o", str(out / "big.tar"), str(context)],
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while not list(out.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr.decode()
    assert b"interrupted" in stderr and b"Traceback" not in stderr
    assert list(out.iterdir()) == []


def test_dockerignore_excludes_and_dockerfile_specific_one_wins(tmp_path):
    from pybuild.oci.validate import validate_archive

    context = write_case(tmp_path, "FROM scratch\nCOPY . /x/\n")
    (context / "secret.key").write_text("k")
    (context / ".dockerignore").write_text("*.key\nDockerfile\n")
    out = tmp_path / "o.tar"
    assert pybuild("-t", "x", "-o", str(out), str(context)).returncode == 0
    names = {m.name for ms in validate_archive(out).layer_members.values() for m in ms}
    assert "x/a.txt" in names and "x/secret.key" not in names and "x/Dockerfile" not in names
    assert "x/.dockerignore" in names
    (context / "Dockerfile.dockerignore").write_text("a.txt\n")
    assert pybuild("-t", "x", "-o", str(out), str(context)).returncode == 0
    names = {m.name for ms in validate_archive(out).layer_members.values() for m in ms}
    assert "x/secret.key" in names and "x/a.txt" not in names


def test_copy_of_an_ignored_file_names_dockerignore(tmp_path):
    context = write_case(tmp_path, "FROM scratch\nCOPY a.txt /a\n")
    (context / ".dockerignore").write_text("a.txt\n")
    result = pybuild("-t", "x", "-o", str(tmp_path / "o.tar"), str(context))
    assert result.returncode == 1 and b"excluded by .dockerignore" in result.stderr


def test_invalid_dockerignore_fails(tmp_path):
    context = write_case(tmp_path, "FROM scratch\nCOPY a.txt /a\n")
    (context / ".dockerignore").write_text("!\n")
    result = pybuild("-t", "x", "-o", str(tmp_path / "o.tar"), str(context))
    assert result.returncode == 1 and b"illegal exclusion pattern" in result.stderr


def test_checks_warn_and_check_error_stops_the_build(tmp_path):
    context = write_case(tmp_path, "FROM scratch\nCOPY a.txt /a\nCMD run it\n")
    out = tmp_path / "o.tar"
    result = pybuild("-t", "x", "-o", str(out), str(context))
    assert result.returncode == 0 and out.exists()
    assert b"Dockerfile:3:1: JSONArgsRecommended" in result.stderr
    out.unlink()
    result = pybuild("--check", "error", "-t", "x", "-o", str(out), str(context))
    assert result.returncode == 1 and not out.exists()
    assert (
        result.stderr.decode().startswith("error: ")
        and "Dockerfile:3:1: JSONArgsRecommended" in result.stderr.decode()
    )


def test_an_interrupt_after_the_output_is_in_place_says_it_is_complete(
    tmp_path, monkeypatch, capsys
):
    """SIGTERM or Ctrl-C after the archive was renamed into place (while recording, loading or
    pushing) must not say 'no output written': the output is there, complete."""
    from pybuild import api, entry
    from pybuild.outputs import files

    monkeypatch.setattr(files, "PLACED", [])

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(api, "finish_recording", interrupted)
    out = tmp_path / "hello.tar"
    monkeypatch.setattr(
        sys, "argv", ["pybuild", "-t", "h:1", "-o", str(out), str(SAMPLES / "hello")]
    )
    with pytest.raises(SystemExit) as exited:
        entry.main()
    assert exited.value.code == 130
    assert f"interrupted; {out} was already written complete" in capsys.readouterr().err
    assert out.stat().st_size > 0


def test_a_dockerfile_from_stdin_and_its_errors_name_stdin(tmp_path):
    context = write_case(tmp_path, "FROM scratch\n")
    out = tmp_path / "s.tar"
    run = [sys.executable, "-m", "pybuild", "-q", "-t", "s:1", "-f", "-", "-o", str(out)]
    ok = subprocess.run(
        [*run, str(context)], input=b"FROM scratch\nCOPY a.txt /b\n", capture_output=True
    )
    assert ok.returncode == 0, ok.stderr
    from pybuild.reports.inspect import read_image

    assert [row["path"] for row in read_image(out)["filesystem"]] == ["/b"]
    bad = subprocess.run(
        [*run, str(context)], input=b"FROM scratch\nCOPPY a.txt /b\n", capture_output=True
    )
    assert bad.returncode == 1
    assert bad.stderr.decode().startswith("error: <stdin>:2:1: unknown instruction: COPPY")


def test_a_build_without_a_tag_is_named_by_its_image_id(tmp_path):
    result = pybuild(str(SAMPLES / "hello"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    image_id = next(
        line.split()[1] for line in result.stderr.decode().splitlines() if line.startswith("image ")
    )
    name = image_id.removeprefix("sha256:")[:12] + ".tar"
    assert result.stdout.decode().strip() == name and [p.name for p in tmp_path.iterdir()] == [name]
    from pybuild.reports.inspect import read_image

    untagged = read_image(tmp_path / name)
    assert untagged["image_id"] == image_id and untagged["tags"] == []


def test_the_image_is_never_written_to_a_terminal(tmp_path):
    import os
    import pty

    leader, follower = pty.openpty()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pybuild", "-t", "x:1", "-o", "-", str(SAMPLES / "hello")],
            stdout=follower,
            stderr=subprocess.PIPE,
        )
    finally:
        os.close(follower)
        os.close(leader)
    message = result.stderr.decode()
    assert result.returncode == 1 and "terminal" in message and "-o - > image.tar" in message
    assert len(message.splitlines()) == 1


def test_an_oci_archive_says_how_to_load_it(tmp_path):
    out = tmp_path / "o.tar"
    result = pybuild("-t", "o:1", "-o", f"type=oci,dest={out}", str(SAMPLES / "hello"))
    assert result.returncode == 0
    assert (
        b"podman load -i" in result.stderr and b"docker load` wants -o type=docker" in result.stderr
    )


@pytest.mark.parametrize(
    ("dockerfile", "message"),
    [
        ("FROM scratch\nCOPPY a.txt /x\n", "unknown instruction: COPPY (did you mean COPY?)"),
        ("from scratch\ncopi a.txt /x\n", "unknown instruction: copi (did you mean copy?)"),
        ("FROM scratch\nCOPY --chwn=1 a.txt /x\n", "unknown flag: --chwn (did you mean --chown?)"),
        ("FROM scratch\nXYZZY a.txt /x\n", "unknown instruction: XYZZY\n"),
    ],
)
def test_unknown_words_suggest_the_nearest_valid_one(tmp_path, dockerfile, message):
    result = pybuild(
        "-t", "t:1", "-o", str(tmp_path / "t.tar"), str(write_case(tmp_path, dockerfile))
    )
    assert result.returncode == 1 and message in result.stderr.decode()


def test_a_bare_check_runs_only_the_checks_with_buildkits_rule_names(tmp_path):
    context = write_case(tmp_path, "FROM scratch\nCMD echo hi\n")
    found = pybuild("--check", str(context), cwd=tmp_path)
    stderr = found.stderr.decode()
    assert found.returncode == 1
    assert (
        "WARNING: JSONArgsRecommended - "
        "https://docs.docker.com/go/dockerfile/rule/json-args-recommended/" in stderr
    )
    assert "Dockerfile:2:1:" in stderr and stderr.rstrip().endswith(
        "Check complete, 1 warning has been found!"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ctx"]  # nothing built
    (context / "Dockerfile").write_text('FROM scratch\nCMD ["echo", "hi"]\n')
    clean = pybuild("build", "-f", str(context / "Dockerfile"), "--check", str(context))
    assert clean.returncode == 0 and b"no warnings have been found" in clean.stderr
    settings = pybuild(
        "--check=skip=JSONArgsRecommended", "-q", "-o", str(tmp_path / "x.tar"), str(context)
    )
    assert settings.returncode == 0 and (tmp_path / "x.tar").is_file()
