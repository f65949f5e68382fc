"""pybuild bake against a real registry: a full bake pushes an index per target; two shards
with their own cache directories, joined by `pybuild index create`, give the same indexes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import require_tool


def bake(folder: Path, *args: str, cache: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pybuild", "bake", "--cache-dir", str(cache), *args],
        capture_output=True,
        text=True,
        cwd=folder,
        env={**os.environ, "TAG": "t1"},
    )


def raw(ref: str) -> dict:
    answer = subprocess.run(
        [require_tool("skopeo"), "inspect", "--tls-verify=false", "--raw", f"docker://{ref}"],
        capture_output=True,
        text=True,
    )
    assert answer.returncode == 0, answer.stderr
    return json.loads(answer.stdout)


def test_a_full_bake_and_two_shards_joined_push_the_same_indexes(open_registry, tmp_path):
    folder = tmp_path / "repo"
    (folder / "ctx").mkdir(parents=True)
    (folder / "ctx" / "f").write_text("hello\n")
    (folder / "ctx" / "Dockerfile").write_text("FROM scratch\nARG WHO\nCOPY f /f\nLABEL who=$WHO\n")
    (folder / "docker-bake.hcl").write_text(
        'variable "TAG" {\n  default = "x"\n}\n'
        'group "default" {\n  targets = ["one", "two"]\n}\n'
        'target "base" {\n  context = "ctx"\n  platforms = ["linux/amd64", "linux/arm64"]\n}\n'
        f'target "one" {{\n  inherits = ["base"]\n  args = {{ WHO = "one" }}\n'
        f'  tags = ["{open_registry}/bake/one:${{TAG}}"]\n}}\n'
        f'target "two" {{\n  inherits = ["base"]\n  args = {{ WHO = "two" }}\n'
        f'  tags = ["{open_registry}/bake/two:${{TAG}}"]\n}}\n'
    )
    full = bake(folder, "--push", cache=tmp_path / "c0")
    assert full.returncode == 0, full.stderr
    whole = {name: raw(f"{open_registry}/bake/{name}:t1") for name in ("one", "two")}
    for index in whole.values():
        arches = sorted(m["platform"]["architecture"] for m in index["manifests"])
        assert arches == ["amd64", "arm64"]
    # Two machines, one share each, then the join.
    first = bake(folder, "--push", "--shard", "1/2", "--jobs", "1", cache=tmp_path / "c1")
    second = bake(folder, "--push", "--shard", "2/2", cache=tmp_path / "c2")
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    joins = [line.strip() for line in second.stderr.splitlines() if "index create" in line]
    assert len(joins) == 2  # what to run once every shard is done: said, then done by --join
    joined = bake(folder, "--join", cache=tmp_path / "c3")
    assert joined.returncode == 0, joined.stderr
    assert len(joined.stdout.splitlines()) == 2
    for name, index in whole.items():
        assert raw(f"{open_registry}/bake/{name}:t1") == index  # the same bytes: reproducible
