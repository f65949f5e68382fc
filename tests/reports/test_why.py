"""explain --why and --against, and the cache-miss reasons of --progress plain: real builds
with a real cache directory, changed the ways people change them (a build arg, a file edited
within the same second and size, a base image whose tag moved in a real registry)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from images import push_sample
from pybuild import api
from pybuild.events import Reporter
from pybuild.oci.registry import RegistryAccess
from pybuild.outputs.spec import parse_output
from pybuild.reports import why


class Notes(Reporter):
    def __init__(self) -> None:
        self.notes: list[str] = []

    def note(self, text: str) -> None:
        self.notes.append(text)


def options(context: Path, cache: Path, *args: str, **more) -> api.BuildOptions:
    return api.BuildOptions(
        context=context,
        tags=("why:1",),
        build_args=args,
        cache_dir=cache,
        output=parse_output(str(context.parent / "out.tar")),
        **more,
    )


@pytest.fixture
def context(tmp_path):
    folder = tmp_path / "ctx"
    folder.mkdir()
    (folder / "f").write_text("one\n")
    (folder / "g").write_text("stays\n")
    (folder / "Dockerfile").write_text("FROM scratch\nARG V=1\nLABEL v=$V\nCOPY f g /\n")
    return folder


def test_a_build_arg_and_an_edit_in_the_same_second_are_named(context, tmp_path):
    cache = tmp_path / "cache"
    api.build(options(context, cache, "V=1"))
    (context / "f").write_text("two\n")  # same size, most likely the same second
    document, _ = api.explain(options(context, cache, "V=2"), why=True)
    found = document["why"]
    assert {"kind": "build arg", "name": "V", "before": "1", "after": "2"} in found["inputs"]
    assert found["first_change"]["line"] == 3
    label, copy = found["steps"]
    assert label["variables"][0]["name"] == "V"
    assert label["config"] == [{"path": "config.Labels.v", "before": "1", "after": "2"}]
    assert copy["line"] == 4 and copy["layer"]["files"]["changed"] == ["f"]
    text = why.render_text(found)
    assert "build arg V: 1 -> 2" in text and "changed since the last build: /f" in text


def test_an_unchanged_rebuild_says_so_and_a_first_build_has_nothing_to_compare(context, tmp_path):
    cache = tmp_path / "cache"
    document, _ = api.explain(options(context, cache), why=True)
    assert document["why"] is None  # explain looks, it does not record
    api.build(options(context, cache))
    document, _ = api.explain(options(context, cache), why=True)
    assert document["why"]["identical"] and not document["why"]["steps"]


def test_a_layer_rebuilt_names_its_changed_files_in_progress_notes(context, tmp_path):
    cache = tmp_path / "cache"
    api.build(options(context, cache))
    (context / "g").write_text("moved\n")
    reporter = Notes()
    api.build(options(context, cache), reporter=reporter)
    assert "line 4: layer rebuilt, changed since the last build: /g" in reporter.notes


def test_a_broken_record_is_ignored_never_fatal(context, tmp_path):
    cache = tmp_path / "cache"
    api.build(options(context, cache))
    record = why.record_path(cache, context, context / "Dockerfile")
    for junk in ('{"format": 2, "steps": [1]}', "not json", "[]"):
        record.write_text(junk)
        reporter = Notes()
        api.build(options(context, cache), reporter=reporter)
        assert not reporter.notes
        assert why.load(record) is not None  # the build replaced it with a good one


def test_against_an_older_archive_places_each_difference_at_its_line(context, tmp_path):
    cache = tmp_path / "cache"
    old = tmp_path / "old.tar"
    api.build(api.BuildOptions(context=context, tags=("why:1",), output=parse_output(str(old))))
    (context / "f").write_text("three\n")
    document, _ = api.explain(
        api.BuildOptions(context=context, tags=("why:1",), cache_dir=cache), against=old
    )
    (layer,) = document["against"]["layers"]
    assert layer["line"] == 4 and [item["path"] for item in layer["changed"]] == ["/f"]
    assert "first change: line 4: COPY f g /" in why.render_against(document["against"])


def test_the_command_line_prints_the_question_first(context, tmp_path):
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg"), "PATH": "/usr/bin:/bin"}
    run = [sys.executable, "-m", "pybuild"]
    first = subprocess.run(
        [*run, "-q", "-t", "w:1", "-o", str(tmp_path / "a.tar"), str(context)],
        capture_output=True,
        env=env,
    )
    assert first.returncode == 0, first.stderr
    answer = subprocess.run(
        [*run, "explain", "--why", "--build-arg", "V=7", str(context)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.startswith("why: compared with the last build")
    assert "build arg V: None -> 7" in answer.stdout
    as_json = subprocess.run(
        [*run, "explain", "--why", "--format", "json", str(context)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert json.loads(as_json.stdout)["why"]["identical"]


def test_a_base_image_whose_tag_moved_is_named_with_both_digests(open_registry, tmp_path):
    base = f"{open_registry}/why/base:1"
    push_sample(base, RegistryAccess(), sample="hello")
    folder = tmp_path / "ctx"
    folder.mkdir()
    (folder / "Dockerfile").write_text(f"FROM {base}\nLABEL built=yes\n")
    cache = tmp_path / "cache"
    api.build(options(folder, cache))
    push_sample(base, RegistryAccess(), sample="greet")  # the tag moves to another image
    document, _ = api.explain(
        options(folder, cache, registry=RegistryAccess(pull="always")), why=True
    )
    (moved,) = [item for item in document["why"]["inputs"] if item["kind"] == "base image"]
    assert moved["before"] != moved["after"] and moved["before"].startswith("sha256:")
    assert "why/base" in moved["name"]
