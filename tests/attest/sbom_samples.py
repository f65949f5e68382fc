"""An inventory and image made by hand for the SBOM writers' tests: odd names, licenses that
are and are not SPDX expressions, every ecosystem, a package recorded twice."""

from __future__ import annotations

import dataclasses
import importlib
from types import ModuleType

import pytest

from conftest import IN_CI
from pybuild.attest.inventory import DescribedImage, ImageFile, Inventory, LayerSource, Package


def need(module: str) -> ModuleType:
    """A validator's module, or a skip; CI has it installed, so there a missing one fails."""
    return importlib.import_module(module) if IN_CI else pytest.importorskip(module)


DIGEST = "sha256:" + "ab" * 32
BASE, COPY = "sha256:" + "01" * 32, "sha256:" + "02" * 32


def file(path: str, layer: int) -> ImageFile:
    return ImageFile(path, 10, 0o644, f"{len(path):064x}", f"{len(path) + 1:040x}", layer)


INVENTORY = Inventory(
    files=(
        file("lib/apk/db/installed", 0),
        file("bin/busybox", 0),
        file("var/lib/dpkg/status", 0),
        file("bin/echo", 1),
        file("usr/local/bin/app", 1),
        file("opt/a file with spaces/ünïcödé.txt", 1),
        file("app/node_modules/@scope/pkg/package.json", 1),
    ),
    packages=(
        Package(
            "musl",
            "1.2.4-r2",
            "apk",
            "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64",
            "lib/apk/db/installed",
            licenses="mit",
            supplier="Natanael Copa <ncopa@alpinelinux.org>",
            description="the musl c library",
        ),
        Package(
            "libc6",
            "1:2.36-9+deb12u4",
            "deb",
            "pkg:deb/debian/libc6@1%3A2.36-9%2Bdeb12u4?arch=amd64",
            "var/lib/dpkg/status",
            licenses="GPL-2+ and LGPL-2.1+",  # Debian's names, not SPDX ids
            supplier="GNU Libc Maintainers <debian-glibc@lists.debian.org>",
        ),
        Package(
            "Réquêts (fork)",
            "2.0",
            "pypi",
            "pkg:pypi/r%C3%A9qu%C3%AAts-fork@2.0",
            "usr/lib/python3/site-packages/réquêts-2.0.dist-info/METADATA",
            licenses="Apache Software License",
            supplier="Kenneth (the author) Reitz",
        ),
        Package(
            "@scope/pkg",
            "1.0.0",
            "npm",
            "pkg:npm/%40scope/pkg@1.0.0",
            "app/node_modules/@scope/pkg/package.json",
            licenses="(MIT OR Apache-2.0) AND LicenseRef-Scope",
        ),
        Package(
            "github.com/example/app",
            "v1.2.3",
            "golang",
            "pkg:golang/github.com/example/app@v1.2.3",
            "usr/local/bin/app",
            licenses="GPL-2.0+",
        ),
        Package("my package", "", "deb", "pkg:deb/debian/my-package", "var/lib/dpkg/status"),
        # The same package recorded twice: two entries, two ids.
        Package("my package", "", "deb", "pkg:deb/debian/my-package", "var/lib/dpkg/status"),
    ),
    layers=(
        LayerSource("ADD alpine-minirootfs.tar.gz /"),
        LayerSource("COPY echo /bin/echo", "Dockerfile:3"),
    ),
)
IMAGE = DescribedImage(
    name="registry.example:5000/team/app:1.0",
    manifest_digest=DIGEST,
    platform="linux/arm64/v8",
    diff_ids=(BASE, COPY),
    created="1970-01-01T00:00:00Z",
    tool_version="0.1.0",
)
EMPTY = Inventory(files=(), packages=(), layers=())
UNTAGGED = dataclasses.replace(IMAGE, name="", diff_ids=())
NO_LAYERS = dataclasses.replace(IMAGE, diff_ids=())
