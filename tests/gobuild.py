"""A real Go binary with module dependencies, built offline once a session (the package reader
and SBOM tests both read it)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import IN_CI

GO_MODULES = {
    "hello": (
        "module example.com/hello\n\ngo 1.18\n\n"
        "require (\n\texample.com/greet v1.2.3\n\texample.com/util v0.4.0\n)\n\n"
        "replace example.com/greet => ../greet\n\nreplace example.com/util => ../util\n",
        "package main\n\n"
        'import (\n\t"example.com/greet"\n\t"example.com/util"\n)\n\n'
        "func main() { println(util.Twice(greet.Hello())) }\n",
    ),
    "greet": (
        "module example.com/greet\n\ngo 1.18\n",
        'package greet\n\nfunc Hello() string { return "hello" }\n',
    ),
    "util": (
        "module example.com/util\n\ngo 1.18\n",
        'package util\n\nfunc Twice(s string) string { return s + " " + s }\n',
    ),
}


def _unavailable(reason: str) -> None:
    """Skip for want of a Go toolchain, except under CI, which has one."""
    if IN_CI:
        pytest.fail(f"{reason} (CI must run the Go binary tests)")
    pytest.skip(reason)


@dataclass(frozen=True)
class GoBuild:
    plain: Path
    stripped: Path  # built with -ldflags=-s -w
    printed: str  # what `go version -m` prints of the plain one


@pytest.fixture(scope="session")
def go_build(tmp_path_factory: pytest.TempPathFactory) -> GoBuild:
    """The test program built once, plainly and stripped, and what `go version -m` says of it.

    Offline: GOPROXY=off forbids downloads, and the two dependencies are replaced by local
    folders, so there is nothing to download and no go.sum to check. GOFLAGS, GOWORK and
    GOENV are cleared so the user's settings or a go.work above cannot change the build;
    GOTOOLCHAIN=local stops a newer go from fetching another toolchain; CGO_ENABLED=0 needs no
    C compiler; GOCACHE and GOPATH are fresh, so nothing of the user's is read or written.
    """
    go = shutil.which("go")
    if go is None:
        _unavailable("no `go` on PATH: the Go binary tests need a Go toolchain (1.18 or later)")
    assert go is not None
    root = tmp_path_factory.mktemp("go")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "GOPROXY": "off",
        "GOFLAGS": "",
        "GOWORK": "off",
        "GOENV": "off",
        "GOTOOLCHAIN": "local",
        "CGO_ENABLED": "0",
        "GOCACHE": str(root / "cache"),
        "GOPATH": str(root / "gopath"),
    }

    def run(*args: str, cwd: Path = root) -> str:
        return subprocess.run(
            [go, *args], cwd=cwd, env=env, capture_output=True, text=True, check=True, timeout=300
        ).stdout

    version = run("env", "GOVERSION").strip()
    numbers = re.match(r"go(\d+)\.(\d+)", version)
    if numbers and (int(numbers[1]), int(numbers[2])) < (1, 18):
        _unavailable(f"{go} is {version}: the build information read here is Go 1.18's")
    for name, (go_mod, source) in GO_MODULES.items():
        (root / name).mkdir()
        (root / name / "go.mod").write_text(go_mod)
        (root / name / f"{name}.go").write_text(source)
    run("build", "-o", str(root / "plain"), ".", cwd=root / "hello")
    run("build", "-ldflags=-s -w", "-o", str(root / "stripped"), ".", cwd=root / "hello")
    return GoBuild(root / "plain", root / "stripped", run("version", "-m", str(root / "plain")))
