"""The whole-build up-to-date check: an unchanged command is answered from a stat of its inputs,
and any change to what the build depends on makes it build again."""

from __future__ import annotations

import os
import shutil
import sys
import time

import pytest

from conftest import SAMPLES
from pybuild import api, entry, recording
from pybuild.oci.validate import validate_archive
from pybuild.outputs.spec import parse_output


@pytest.fixture
def run(monkeypatch, capsys, tmp_path):
    """`run(*args)` runs the `pybuild` command in this process and returns (stdout, stderr,
    built): built is False when the answer came from a record, without building."""
    monkeypatch.setattr(recording, "RACY_SECONDS", 0)  # files made by the test are not racy
    monkeypatch.chdir(tmp_path)
    calls = []
    real_build = api.build
    monkeypatch.setattr(api, "build", lambda *a, **k: calls.append(1) or real_build(*a, **k))

    def invoke(*args: str) -> tuple[str, str, bool]:
        before = len(calls)
        monkeypatch.setattr(sys, "argv", ["pybuild", *args])
        try:
            entry.main()
        except SystemExit as exit:
            assert exit.code in (0, None), capsys.readouterr().err
        out, err = capsys.readouterr()
        return out, err, len(calls) > before

    return invoke


@pytest.fixture
def context(tmp_path):
    context = tmp_path / "ctx"
    shutil.copytree(SAMPLES / "greet", context)
    (context / "sub").mkdir()
    (context / "sub" / "a.txt").write_text("a")
    (context / "sub" / "inner").mkdir()
    (context / "Dockerfile").write_text(
        'FROM scratch\nCOPY greet /\nCOPY sub /sub\nCMD ["/greet"]\n'
    )
    return context


def args(context, out, *more):
    return (
        "--cache-dir",
        str(context.parent / "cache"),
        "-t",
        "g:1",
        "-o",
        str(out),
        *more,
        str(context),
    )


def test_an_unchanged_rebuild_is_answered_without_building_and_says_what_a_build_says(
    run, context, tmp_path
):
    out = tmp_path / "out.tar"
    first = run(*args(context, out))
    assert first[2]
    replayed = run(*args(context, out))
    assert not replayed[2]
    assert replayed[:2] == (
        str(out) + "\n",
        f"{out} already holds this image; nothing written\n" + first[1].splitlines()[-1] + "\n",
    )
    for record in (context.parent / "cache" / "builds").iterdir():
        record.unlink()
    assert run(*args(context, out)) == (*replayed[:2], True)  # the full build says the same
    validate_archive(out)


def test_quiet_replays_only_the_image_id(run, context, tmp_path):
    out = tmp_path / "out.tar"
    first = run("-q", *args(context, out))
    again = run("-q", *args(context, out))
    assert not again[2] and again[:2] == first[:2] and again[0].startswith("sha256:")


def change_content(context):
    (context / "sub" / "a.txt").write_text("b")  # same size


def add_file(context):
    (context / "sub" / "new.txt").write_text("new")


def remove_file(context):
    (context / "sub" / "a.txt").unlink()


def chmod_file(context):
    os.chmod(context / "sub" / "a.txt", 0o600)


def chmod_directory(context):
    os.chmod(context / "sub" / "inner", 0o700)


def rename_file(context):
    os.rename(context / "sub" / "a.txt", context / "sub" / "b.txt")


def edit_dockerfile(context):
    with open(context / "Dockerfile", "a") as handle:
        handle.write("ENV A=1\n")


def add_ignore_file(context):
    (context / ".dockerignore").write_text("sub/a.txt\n")


def add_dockerfile_ignore_file(context):
    (context / "Dockerfile.dockerignore").write_text("sub/a.txt\n")


@pytest.mark.parametrize(
    "change",
    [
        change_content,
        add_file,
        remove_file,
        chmod_file,
        chmod_directory,
        rename_file,
        edit_dockerfile,
        add_ignore_file,
        add_dockerfile_ignore_file,
    ],
)
def test_any_change_to_the_inputs_builds_again(run, context, tmp_path, change):
    out = tmp_path / "out.tar"
    first = run(*args(context, out))
    change(context)
    again = run(*args(context, out))
    assert again[2]
    assert again[1].splitlines()[-1] != first[1].splitlines()[-1]  # another image ID
    assert not run(*args(context, out))[2]  # and that new state is answered next time
    validate_archive(out)


def test_a_changed_output_file_or_command_line_builds_again(run, context, tmp_path):
    out = tmp_path / "out.tar"
    run(*args(context, out))
    with open(out, "ab") as handle:
        handle.write(b"\0" * 512)
    assert run(*args(context, out))[2]
    validate_archive(out)
    assert run(*args(context, out, "--label", "a=b"))[2]
    out.unlink()
    assert run(*args(context, out))[2] and out.is_file()


def test_the_environment_a_build_consults_is_part_of_the_record(
    run, context, tmp_path, monkeypatch
):
    out = tmp_path / "out.tar"
    (context / "Dockerfile").write_text("FROM scratch\nARG V\nLABEL v=$V\n")
    run(*args(context, out, "--build-arg", "V"))
    monkeypatch.setenv("V", "1")
    assert run(*args(context, out, "--build-arg", "V"))[2]
    assert not run(*args(context, out, "--build-arg", "V"))[2]
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert run(*args(context, out, "--build-arg", "V"))[2]
    monkeypatch.setenv("UNRELATED", "x")
    assert not run(*args(context, out, "--build-arg", "V"))[2]


@pytest.mark.parametrize("extra", [("--no-cache",), ("--timestamp", "now")])
def test_builds_that_are_not_recorded(run, context, tmp_path, extra):
    out = tmp_path / "out.tar"
    cache = ("--cache-dir", str(tmp_path / "cache")) if extra != ("--no-cache",) else ()
    for _ in range(2):
        assert run(*cache, *extra, "-t", "g:1", "-o", str(out), str(context))[2]


def test_outputs_other_than_one_archive_file_always_build(run, context, tmp_path):
    layout = f"type=oci-dir,dest={tmp_path / 'layout'}"
    for _ in range(2):
        assert run("--cache-dir", str(tmp_path / "cache"), "-t", "g:1", "-o", layout, str(context))[
            2
        ]
    argv = ["--cache-dir", str(tmp_path / "cache"), str(context)]
    for text, load, push in (
        ("-", False, False),
        (f"type=bundle,dest={tmp_path / 'b'}", False, False),
        (None, True, False),
        (None, False, True),
        ("type=oci,dest=x.tar", False, False),
    ):
        options = api.BuildOptions(
            context=context,
            tags=("g:1",),
            cache_dir=tmp_path / "cache",
            output=parse_output(text, load, push),
        )
        watch = api.start_recording(options, argv)
        assert (watch is not None) == (text == "type=oci,dest=x.tar")


def test_an_output_inside_the_context_is_answered_once_it_stops_changing(run, context, monkeypatch):
    monkeypatch.chdir(context)
    built = [run("--cache-dir", "../cache", "-t", "g:1", ".")[2] for _ in range(4)]
    assert built == [True, True, False, False]  # the second build wrote nothing, so it records
    (context / "sub" / "a.txt").write_text("b")
    assert run("--cache-dir", "../cache", "-t", "g:1", ".")[2]


def test_a_changed_build_context_archive_builds_again(run, context, tmp_path):
    base = tmp_path / "base.tar"
    run(
        "--cache-dir",
        str(tmp_path / "cache"),
        "-t",
        "base:1",
        "-o",
        str(base),
        str(SAMPLES / "hello"),
    )
    (context / "Dockerfile").write_text("FROM base\nCOPY sub /sub\n")
    command = args(context, tmp_path / "out.tar", "--build-context", f"base=docker-archive:{base}")
    assert run(*command)[2]
    assert not run(*command)[2]
    run(
        "--cache-dir",
        str(tmp_path / "cache"),
        "-t",
        "base:1",
        "-o",
        str(base),
        str(SAMPLES / "greet"),
    )
    assert run(*command)[2]


def test_inputs_changed_just_before_the_build_are_not_recorded(run, context, tmp_path, monkeypatch):
    """A file changed within RACY_SECONDS of the build could change again in the same timestamp
    tick without its stat showing it, so such a build leaves no record."""
    monkeypatch.setattr(recording, "RACY_SECONDS", 3600)
    out = tmp_path / "out.tar"
    assert run(*args(context, out))[2]
    assert run(*args(context, out))[2]


def test_inputs_changed_during_the_build_are_not_answered_next_time(
    run, context, tmp_path, monkeypatch
):
    """The record keeps the inputs as they were when the build started."""
    out = tmp_path / "out.tar"
    real_build = api.build

    def build_while_a_file_changes(*args, **kwargs):
        (context / "sub" / "a.txt").write_text("changed while building")
        return real_build(*args, **kwargs)

    monkeypatch.setattr(api, "build", build_while_a_file_changes)
    run(*args(context, out))
    assert list((tmp_path / "cache" / "builds").iterdir())  # recorded, but ...
    monkeypatch.setattr(api, "build", real_build)
    assert recording.replay(list(args(context, out))) is False  # ... not answered from


def test_the_racy_window_is_real_time(context, tmp_path):
    """With the real window, a context written just now is racy; an old one is not."""
    watch = recording.Recording(
        ["-t", "x"], str(tmp_path / "cache"), [str(context)], directory_times=False
    )
    assert watch.racy(watch.before)
    watch.started = time.time_ns() + int((recording.RACY_SECONDS + 5) * 1e9)
    assert not watch.racy(watch.before)


def test_a_changed_pybuild_has_other_records(tmp_path, monkeypatch):
    code = tmp_path / "code"
    code.mkdir()
    (code / "module.py").write_text("a = 1\n")
    monkeypatch.setattr(recording, "PACKAGE_DIR", str(code))
    first = recording.record_path("/cache", ["."], "/")
    (code / "__pycache__").mkdir()
    (code / "__pycache__" / "module.pyc").write_bytes(b"compiled")
    assert recording.record_path("/cache", ["."], "/") == first  # compiling changes nothing
    (code / "module.py").write_text("a = 22\n")
    assert recording.record_path("/cache", ["."], "/") != first


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["-t", "x", "."], "DEFAULT"),
        (["build", "--cache-dir", "c", "."], os.path.abspath("c")),
        (["--cache-dir=c", "."], os.path.abspath("c")),
        (["--no-cache", "."], None),
        (["explain", "."], None),
        (["parse"], None),
        (["-t", "x", "--", "--no-cache"], "DEFAULT"),
    ],
)
def test_the_cache_directory_is_read_from_the_command_line(argv, expected):
    found = recording.cache_dir_from_argv(argv)
    assert found == (recording.default_cache_dir() if expected == "DEFAULT" else expected)


def test_a_damaged_record_is_a_miss(run, context, tmp_path):
    out = tmp_path / "out.tar"
    run(*args(context, out))
    for record in (tmp_path / "cache" / "builds").iterdir():
        record.write_text("{not json")
    assert run(*args(context, out))[2]


def test_with_source_date_epoch_a_directory_time_counts(run, context, tmp_path, monkeypatch):
    """Clamped file times keep a directory's older mtime in the image, so it is an input then."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    out = tmp_path / "out.tar"
    first = run(*args(context, out))
    assert not run(*args(context, out))[2]
    os.utime(context / "sub" / "inner", (1000, 1000))
    again = run(*args(context, out))
    assert again[2] and again[1].splitlines()[-1] != first[1].splitlines()[-1]


def test_directories_dockerignore_leaves_out_whole_are_not_walked(run, context, tmp_path):
    out = tmp_path / "out.tar"
    (context / "junk" / "deep").mkdir(parents=True)
    (context / "junk" / "deep" / "x.log").write_text("1")
    (context / ".dockerignore").write_text("junk\n")
    first = run(*args(context, out))
    (context / "junk" / "deep" / "x.log").write_text("22")
    (context / "junk" / "more.log").write_text("more")
    again = run(*args(context, out))
    assert not again[2] and again[1].splitlines()[-1] == first[1].splitlines()[-1]
    (context / ".dockerignore").write_text("junk\n!junk/keep\n")  # now junk may hold inputs
    assert run(*args(context, out))[2]
    (context / "junk" / "deep" / "x.log").write_text("333")
    assert run(*args(context, out))[2]


def test_a_working_directory_that_is_gone_is_a_miss_not_a_traceback(tmp_path, monkeypatch):
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    assert recording.replay(["-t", "x", "."]) is False


def test_a_change_behind_a_symlinked_input_builds_again(run, context, tmp_path):
    """`.dockerignore` a link to a file outside: editing what it points at (same size) must
    not be answered from the record made before."""
    target = tmp_path / "ignore-rules"
    target.write_text("sub/a.txt\n")
    (context / ".dockerignore").symlink_to(target)
    out = tmp_path / "out.tar"
    first = run(*args(context, out))
    target.write_text("sub/b.txt\n")  # a.txt is back in the image
    again = run(*args(context, out))
    assert again[2] and again[1].splitlines()[-1] != first[1].splitlines()[-1]


def test_pybuild_changed_in_content_alone_is_another_version(tmp_path, monkeypatch):
    """A reinstalled pybuild can keep every file's size and time: its record key must still
    change (the contents are hashed, the grammar included)."""
    copy = tmp_path / "pybuild"
    shutil.copytree(recording.PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(recording, "PACKAGE_DIR", str(copy))
    before = recording.code_version()
    module = copy / "dockerfile" / "expand.py"
    times = os.stat(module)
    text = module.read_text()
    module.write_text(text.replace("MAX_DEPTH = 64", "MAX_DEPTH = 46"))
    os.utime(module, ns=(times.st_atime_ns, times.st_mtime_ns))
    assert os.stat(module).st_size == times.st_size
    assert recording.code_version() != before


def test_an_output_replaced_before_the_record_is_written_is_not_answered(
    run, context, tmp_path, monkeypatch
):
    """Another writer replaces the output between pybuild's rename and its record: the record
    must not claim that other file holds this image."""
    out = tmp_path / "out.tar"
    real_finish = recording.Recording.finish

    def racing(self, dest, *rest, **named):
        other = tmp_path / "other.tar"
        other.write_bytes(b"not this image")
        os.replace(other, dest)
        return real_finish(self, dest, *rest, **named)

    monkeypatch.setattr(recording.Recording, "finish", racing)
    run(*args(context, out))
    monkeypatch.setattr(recording.Recording, "finish", real_finish)
    again = run(*args(context, out))
    assert again[2]  # built again, not 'already holds this image'
    validate_archive(out)
