"""Reading the packages an image holds from its package databases and Go binaries, running
nothing: the formats as the tools write them, and hostile bytes that must give [] or what could
be read, never an exception."""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from gobuild import GoBuild
from pybuild.attest.inventory import Package
from pybuild.attest.packages import (
    MAX_DATABASE,
    database_packages,
    go_packages,
    is_database,
)

# -- Which paths are databases -------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "lib/apk/db/installed",
        "var/lib/dpkg/status",
        "var/lib/dpkg/status.d/libc6",
        "var/lib/dpkg/status.d/base-files",
        "usr/lib/python3/dist-packages/requests-2.31.0.dist-info/METADATA",
        "usr/local/lib/python3.12/site-packages/six-1.16.0.egg-info/PKG-INFO",
        "app/node_modules/lodash/package.json",
        "app/node_modules/@scope/pkg/package.json",
        "node_modules/a/node_modules/b/package.json",
        "node_modules/lodash/fp/node_modules/x/package.json",
        "node_modules/@s/a/node_modules/@t/b/package.json",
    ],
)
def test_the_databases_are_known(path: str) -> None:
    assert is_database(path)


@pytest.mark.parametrize(
    "path",
    [
        "var/lib/dpkg/status.d/libc6.md5sums",
        "var/lib/dpkg/status.d/sub/libc6",
        "var/lib/dpkg/status-old",
        "var/lib/dpkg/available",
        "lib/apk/db/scripts.tar",
        "usr/lib/python3/site-packages/.dist-info/METADATA",
        "usr/lib/python3/site-packages/x.dist-info/RECORD",
        "app/package.json",
        "node_modules/package.json",
        "node_modules/lodash/fp/package.json",
        "node_modules/lodash/lib/deep/package.json",
        "node_modules/@scope/package.json",
        "node_modules/@scope/pkg/sub/package.json",
        "node_modules/.bin/package.json",
        "node_modules/@/pkg/package.json",
        "METADATA",
        "",
    ],
)
def test_other_paths_are_not(path: str) -> None:
    assert not is_database(path)
    assert database_packages(path, b'{"name": "x", "version": "1"}\nP:x\nV:1\n') == []


# -- apk -----------------------------------------------------------------------------------------

APK = b"""\
C:Q1abc=
P:musl
V:1.2.4-r2
A:x86_64
S:383152
I:622592
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Timo Ter\xc3\xa4s <timo.teras@iki.fi>
t:1697049185
F:lib
R:libc.musl-x86_64.so.1
a:0:0:777

C:Q1def=
P:libstdc++
V:13.2.1_git20231014-r0
A:aarch64
L:GPL-2.0-or-later AND LGPL-2.1-or-later
T:GNU C++ standard runtime library
o:gcc

P:no-version
A:x86_64

P:busybox
V:1.36.1-r15"""  # the last record has no blank line or newline after it


def test_apk_installed_lists_each_record() -> None:
    found = database_packages("lib/apk/db/installed", APK)
    assert found == [
        Package(
            name="musl",
            version="1.2.4-r2",
            ecosystem="apk",
            purl="pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64",
            found_in="lib/apk/db/installed",
            licenses="MIT",
            supplier="Timo Teräs <timo.teras@iki.fi>",
            description="the musl c library (libc) implementation",
        ),
        Package(
            name="libstdc++",
            version="13.2.1_git20231014-r0",
            ecosystem="apk",
            purl="pkg:apk/alpine/libstdc%2B%2B@13.2.1_git20231014-r0?arch=aarch64",
            found_in="lib/apk/db/installed",
            licenses="GPL-2.0-or-later AND LGPL-2.1-or-later",
            description="GNU C++ standard runtime library",
        ),
        Package(
            name="busybox",
            version="1.36.1-r15",
            ecosystem="apk",
            purl="pkg:apk/alpine/busybox@1.36.1-r15",
            found_in="lib/apk/db/installed",
        ),
    ]


def test_apk_with_crlf_lines_and_truncated_records() -> None:
    crlf = APK.replace(b"\n", b"\r\n")
    assert database_packages("lib/apk/db/installed", crlf) == database_packages(
        "lib/apk/db/installed", APK
    )
    cut = APK[: APK.index(b"V:13.2")]  # the second record lost its version and the rest
    assert [p.name for p in database_packages("lib/apk/db/installed", cut)] == ["musl"]


# -- dpkg ----------------------------------------------------------------------------------------

DPKG_STATUS = b"""\
Package: libc6
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 12988
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Architecture: amd64
Multi-Arch: same
Source: glibc
Version: 2.36-9+deb12u4
Depends: libgcc-s1
Conffiles:
 /etc/ld.so.conf.d/x86_64-linux-gnu.conf d4e7a7b88a71b5ffd9e2644e71a0cfab
Description: GNU C Library: Shared libraries
 Contains the standard libraries that are used by nearly all programs on
 the system.
 .
 Package: not-a-package
Homepage: https://www.gnu.org/software/libc/libc.html

Package: removed-one
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0-1
Description: gone, but its configuration stays

Package: libgcc-s1
Status: install ok installed
Maintainer: Debian GCC Maintainers <debian-gcc@lists.debian.org>
Architecture: amd64
Source: gcc-12
Version: 1:12.2.0-14
Description: GCC support library

Package: half
Status: install ok half-installed
Version: 2
"""


def test_dpkg_status_lists_installed_packages_only() -> None:
    found = database_packages("var/lib/dpkg/status", DPKG_STATUS)
    assert found == [
        Package(
            name="libc6",
            version="2.36-9+deb12u4",
            ecosystem="deb",
            purl="pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64",
            found_in="var/lib/dpkg/status",
            supplier="GNU Libc Maintainers <debian-glibc@lists.debian.org>",
            description="GNU C Library: Shared libraries",
        ),
        Package(
            name="libgcc-s1",
            version="1:12.2.0-14",
            ecosystem="deb",
            purl="pkg:deb/debian/libgcc-s1@1%3A12.2.0-14?arch=amd64",
            found_in="var/lib/dpkg/status",
            supplier="Debian GCC Maintainers <debian-gcc@lists.debian.org>",
            description="GCC support library",
        ),
    ]


def test_distroless_status_d_files_have_no_status_field() -> None:
    base_files = b"""\
Package: base-files
Version: 12.4+deb12u5
Architecture: amd64
Maintainer: Santiago Vila <sanvila@debian.org>
Description: Debian base system miscellaneous files
"""
    path = "var/lib/dpkg/status.d/base-files"
    assert database_packages(path, base_files) == [
        Package(
            name="base-files",
            version="12.4+deb12u5",
            ecosystem="deb",
            purl="pkg:deb/debian/base-files@12.4%2Bdeb12u5?arch=amd64",
            found_in=path,
            supplier="Santiago Vila <sanvila@debian.org>",
            description="Debian base system miscellaneous files",
        )
    ]
    md5sums = b"d41d8cd98f00b204e9800998ecf8427e  usr/share/doc/base-files/README\n"
    assert database_packages("var/lib/dpkg/status.d/base-files.md5sums", md5sums) == []


def test_dpkg_truncated_records() -> None:
    cut = DPKG_STATUS[: DPKG_STATUS.index(b"Version: 1:12")]
    assert [p.name for p in database_packages("var/lib/dpkg/status", cut)] == ["libc6"]
    no_name = b"Status: install ok installed\nVersion: 1\n\nPackage: x\nStatus: install\n"
    assert database_packages("var/lib/dpkg/status", no_name) == []


# -- Python --------------------------------------------------------------------------------------

METADATA = b"""\
Metadata-Version: 2.4
Name: Typing_Extensions.Backport
Version: 4.12.0+local.1
Summary: Backported and Experimental Type Hints for Python 3.8+
Author-email: "Guido van Rossum, Jukka Lehtosalo" <levkivskyi@gmail.com>
License-Expression: PSF-2.0
License: the older field, ignored when an expression is there
Classifier: License :: OSI Approved :: Python Software Foundation License

Name: not-this-one
Version: 0

The long description follows the headers.
"""

PKG_INFO = (
    b"""\
Metadata-Version: 1.1
Name: six
Version: 1.16.0
Summary: Python 2 and 3 compatibility utilities
Home-page: https://github.com/benjaminp/six
Author: Benjamin Peterson
Author-email: benjamin@python.org
License: Copyright (c) 2010-2020 Benjamin Peterson
"""
    + b" " * 8
    + b"""
        Permission is hereby granted, free of charge, to any person obtaining a copy
Classifier: Programming Language :: Python :: 3
Classifier: License :: OSI Approved :: MIT License
Classifier: Topic :: Software Development :: Libraries
"""
)


def test_dist_info_metadata() -> None:
    path = "usr/lib/python3.12/site-packages/typing_extensions-4.12.0.dist-info/METADATA"
    assert database_packages(path, METADATA) == [
        Package(
            name="Typing_Extensions.Backport",
            version="4.12.0+local.1",
            ecosystem="pypi",
            purl="pkg:pypi/typing-extensions-backport@4.12.0%2Blocal.1",
            found_in=path,
            licenses="PSF-2.0",
            supplier='"Guido van Rossum, Jukka Lehtosalo" <levkivskyi@gmail.com>',
            description="Backported and Experimental Type Hints for Python 3.8+",
        )
    ]


def test_egg_info_pkg_info_with_a_whole_license_text() -> None:
    path = "usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO"
    assert database_packages(path, PKG_INFO) == [
        Package(
            name="six",
            version="1.16.0",
            ecosystem="pypi",
            purl="pkg:pypi/six@1.16.0",
            found_in=path,
            licenses="MIT License",  # from the classifier: the License field is a whole text
            supplier="Benjamin Peterson",
            description="Python 2 and 3 compatibility utilities",
        )
    ]


def test_python_metadata_without_a_name_or_version() -> None:
    path = "x/a-1.dist-info/METADATA"
    assert database_packages(path, b"Metadata-Version: 2.1\nName: a\n") == []
    assert database_packages(path, b"\nName: a\nVersion: 1\n") == []  # a body, no headers
    assert database_packages(path, METADATA[: METADATA.index(b"Version")]) == []


def test_python_metadata_unknown_fields_are_empty() -> None:
    """distutils wrote UNKNOWN for every field left out."""
    old = b"Name: old\nVersion: 1.0\nAuthor: UNKNOWN\nLicense: UNKNOWN\nSummary: UNKNOWN\n"
    [package] = database_packages("x/old-1.0.egg-info/PKG-INFO", old)
    assert (package.supplier, package.licenses, package.description) == ("", "", "")


# -- npm -----------------------------------------------------------------------------------------


def test_npm_packages_scoped_and_not() -> None:
    lodash = b"""{"name": "lodash", "version": "4.17.21", "license": "MIT",
        "author": "John-David Dalton <john.david.dalton@gmail.com>",
        "description": "Lodash modular utilities."}"""
    scoped = b"""{"name": "@babel/core", "version": "7.24.0",
        "license": {"type": "MIT"}, "author": {"name": "The Babel Team", "url": "x"},
        "description": 5}"""
    old = b"""{"name": "old", "version": "0.1.0",
        "licenses": [{"type": "MIT"}, {"type": "Apache-2.0"}, "junk"]}"""
    assert database_packages("app/node_modules/lodash/package.json", lodash) == [
        Package(
            name="lodash",
            version="4.17.21",
            ecosystem="npm",
            purl="pkg:npm/lodash@4.17.21",
            found_in="app/node_modules/lodash/package.json",
            licenses="MIT",
            supplier="John-David Dalton <john.david.dalton@gmail.com>",
            description="Lodash modular utilities.",
        )
    ]
    assert database_packages("node_modules/@babel/core/package.json", scoped) == [
        Package(
            name="@babel/core",
            version="7.24.0",
            ecosystem="npm",
            purl="pkg:npm/%40babel/core@7.24.0",
            found_in="node_modules/@babel/core/package.json",
            licenses="MIT",
            supplier="The Babel Team",
        )
    ]
    [package] = database_packages("node_modules/old/package.json", old)
    assert package.licenses == "MIT, Apache-2.0"
    with_bom = database_packages("node_modules/lodash/package.json", b"\xef\xbb\xbf" + lodash)
    assert [p.purl for p in with_bom] == ["pkg:npm/lodash@4.17.21"]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"{",
        b"[]",
        b'"lodash"',
        b'{"name": "lodash"}',
        b'{"name": 1, "version": "1"}',
        b'{"name": "lodash", "version": ["1"]}',
        b'{"name": "", "version": "1"}',
        b'{"name": "a/b/c", "version": "1"}',
        b'{"name": "@/c", "version": "1"}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"name": "x", "version": "1", "n": 1' + b"0" * 10_000 + b"}",
        b"\xff\xfe\x00garbage",
    ],
)
def test_npm_malformed(data: bytes) -> None:
    assert database_packages("node_modules/lodash/package.json", data) == []


# -- Garbage for every database ------------------------------------------------------------------

SAMPLES = {
    "lib/apk/db/installed": APK,
    "var/lib/dpkg/status": DPKG_STATUS,
    "var/lib/dpkg/status.d/libc6": DPKG_STATUS,
    "a/x-1.dist-info/METADATA": METADATA,
    "a/six-1.egg-info/PKG-INFO": PKG_INFO,
    "node_modules/x/package.json": b'{"name": "x", "version": "1.0.0", "license": "MIT"}',
}


@pytest.mark.parametrize("path", sorted(SAMPLES))
def test_garbage_and_every_truncation_never_raise(path: str) -> None:
    rng = random.Random(path)
    garbage = [bytes(rng.getrandbits(8) for _ in range(size)) for size in (1, 7, 300, 5000)]
    garbage += [b"\x00" * 4096, b"\n" * 100_000, b":" * 10_000, b" \n" * 1000]
    for data in garbage:
        assert all(isinstance(p, Package) for p in database_packages(path, data))
    sample = SAMPLES[path]
    for end in range(len(sample)):
        for package in database_packages(path, sample[:end]):
            assert package.found_in == path and package.name and package.version
    for _ in range(200):
        mutated = bytearray(sample)
        for _ in range(rng.randrange(1, 8)):
            mutated[rng.randrange(len(mutated))] = rng.getrandbits(8)
        database_packages(path, bytes(mutated))


def test_a_flood_of_tiny_records_is_cut_short() -> None:
    flood = b"P:a\nV:1\n\n" * 200_000
    assert len(database_packages("lib/apk/db/installed", flood)) == 100_000
    flood = b"Package: a\nVersion: 1\n\n" * 200_000
    assert len(database_packages("var/lib/dpkg/status", flood)) == 100_000


def test_databases_over_the_limit_are_skipped() -> None:
    huge = APK + b"\n" * (MAX_DATABASE - len(APK) + 1)
    assert database_packages("lib/apk/db/installed", huge) == []


# -- Go binaries: a real one ---------------------------------------------------------------------


def _file_reader(path: Path) -> tuple[Callable[[int, int], bytes], int]:
    data = path.read_bytes()
    return _memory_reader(data), len(data)


def _memory_reader(data: bytes, reads: list[int] | None = None) -> Callable[[int, int], bytes]:
    """`read` over bytes in memory, noting how much each call asked for."""

    def read(offset: int, length: int) -> bytes:
        if reads is not None:
            reads.append(length)
        return data[offset : offset + length]

    return read


def _what_go_prints(printed: str) -> list[tuple[str, str]]:
    """The main module and dependencies `go version -m` lists, each replaced by its `=>` line
    when that names another module (with a version), not a local folder."""
    modules: list[tuple[str, str]] = []
    for line in printed.splitlines()[1:]:
        fields = line.strip("\t").split("\t")
        if fields[0] in ("mod", "dep"):
            modules.append((fields[1], fields[2]))
        elif fields[0] == "=>" and len(fields) > 2 and fields[2] not in ("", "(devel)"):
            modules[-1] = (fields[1], fields[2])
    return modules


def test_a_go_binary_lists_what_go_version_m_prints(go_build: GoBuild) -> None:
    data = go_build.plain.read_bytes()
    reads: list[int] = []
    found = go_packages("app/hello", _memory_reader(data, reads), len(data))
    expected = [
        ("example.com/hello", "(devel)"),
        ("example.com/greet", "v1.2.3"),
        ("example.com/util", "v0.4.0"),
    ]
    assert _what_go_prints(go_build.printed) == expected
    assert [(p.name, p.version) for p in found] == expected
    assert [p.purl for p in found] == [
        "pkg:golang/example.com/hello",
        "pkg:golang/example.com/greet@v1.2.3",
        "pkg:golang/example.com/util@v0.4.0",
    ]
    assert {(p.ecosystem, p.found_in) for p in found} == {("golang", "app/hello")}
    assert sum(reads) < 1 << 20 and len(reads) < 20  # a few small reads, not the whole file

    with go_build.plain.open("rb") as file:

        def read(offset: int, length: int) -> bytes:
            file.seek(offset)
            return file.read(length)

        assert go_packages("app/hello", read, len(data)) == found


def test_a_stripped_go_binary(go_build: GoBuild) -> None:
    plain = go_packages("h", *_file_reader(go_build.plain))
    assert go_packages("h", *_file_reader(go_build.stripped)) == plain


def test_a_go_binary_without_section_headers(go_build: GoBuild) -> None:
    """Found in the writable data segment, as Go finds it when the section headers are gone."""
    data = bytearray(go_build.stripped.read_bytes())
    assert data[4] == 2 and data[5] == 1  # the test machine builds ELF64 little-endian
    struct.pack_into("<Q", data, 0x28, 0)  # e_shoff
    struct.pack_into("<HHH", data, 0x3A, 0, 0, 0)  # e_shentsize, e_shnum, e_shstrndx
    plain = go_packages("h", *_file_reader(go_build.plain))
    assert go_packages("h", _memory_reader(bytes(data)), len(data)) == plain


def test_a_go_binary_mutated_never_raises(go_build: GoBuild) -> None:
    original = go_build.plain.read_bytes()
    info = original.find(b"\xff Go buildinf:")
    rng = random.Random(7)
    for _ in range(300):
        data = bytearray(original)
        for _ in range(rng.randrange(1, 6)):
            spot = rng.choice([rng.randrange(64), rng.randrange(info, info + 128)])
            data[spot] = rng.getrandbits(8)
        reads: list[int] = []
        for package in go_packages("h", _memory_reader(bytes(data), reads), len(data)):
            assert package.ecosystem == "golang"
        assert sum(reads) <= 4 << 20


def test_elf_files_that_are_not_go() -> None:
    for program in ("/bin/true", "/bin/sh"):
        path = Path(program).resolve()
        if path.is_file() and path.read_bytes()[:4] == b"\x7fELF":
            assert go_packages(program.lstrip("/"), *_file_reader(path)) == []
    assert go_packages("x", _memory_reader(b""), 0) == []
    assert go_packages("x", _memory_reader(b"#!/bin/sh\necho hi\n"), 18) == []
    assert go_packages("x", _memory_reader(b"\x7fELF"), 4) == []


# -- Go binaries: made by hand, for the layouts this machine does not build -----------------------

MODULE_INFO = (
    "path\texample.com/app/cmd/app\n"
    "mod\texample.com/app\tv1.0.0\th1:aaaa=\n"
    "dep\tgithub.com/a/b\tv1.2.0\th1:bbbb=\n"
    "=>\tgithub.com/fork/b\tv1.2.1\th1:cccc=\n"
    "dep\tgolang.org/x/text\tv0.3.0+incompatible\n"
    "dep\texample.com/local\tv0.1.0\n"
    "=>\t./local\t\t\n"
    "build\t-compiler=gc\n"
    "build\tGOOS=linux\n"
)
MODULES = [
    ("example.com/app", "v1.0.0", "pkg:golang/example.com/app@v1.0.0"),
    ("github.com/fork/b", "v1.2.1", "pkg:golang/github.com/fork/b@v1.2.1"),
    (
        "golang.org/x/text",
        "v0.3.0+incompatible",
        "pkg:golang/golang.org/x/text@v0.3.0%2Bincompatible",
    ),
    ("example.com/local", "v0.1.0", "pkg:golang/example.com/local@v0.1.0"),
]


def _uvarint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    return bytes(out + bytes([value]))


def _buildinfo(module_info: str, *, flags: int = 0x2, version: bytes = b"go1.22.1") -> bytes:
    """A build information header with its strings inline (flags 0x2), as Go 1.18 on writes
    it; the module information framed by 16 bytes at each end, as the linker frames it."""
    framed = b"<" * 16 + module_info.encode() + b">" * 16
    header = b"\xff Go buildinf:" + bytes([8, flags]) + bytes(16)
    return header + _uvarint(len(version)) + version + _uvarint(len(framed)) + framed


def _elf(payload: bytes, *, wide: bool, big: bool, sections: bool = True) -> bytes:
    """A minimal ELF file: one writable PT_LOAD segment holding `payload` at offset 0x100 and,
    with `sections`, a `.go.buildinfo` section over it."""
    order = ">" if big else "<"
    data_offset = 0x100
    names = b"\x00.shstrtab\x00.go.buildinfo\x00"
    names_offset = data_offset + len(payload) + 64  # 64 bytes of other data in the segment
    table_offset = (names_offset + len(names) + 15) & ~15
    ident = b"\x7fELF" + bytes([2 if wide else 1, 2 if big else 1, 1]) + bytes(9)
    if wide:
        header_layout, program_layout, section_layout = "HHIQQQIHHHHHH", "IIQQQQQQ", "IIQQQQIIQQ"
        sizes = (64, 56, 64)
    else:
        header_layout, program_layout, section_layout = "HHIIIIIHHHHHH", "IIIIIIII", "IIIIIIIIII"
        sizes = (52, 32, 40)
    header = ident + struct.pack(
        order + header_layout,
        2,  # ET_EXEC
        62 if wide else 3,
        1,
        0x401000,
        sizes[0],  # program headers right after this header
        table_offset if sections else 0,
        0,
        sizes[0],
        sizes[1],
        1,
        sizes[2] if sections else 0,
        3 if sections else 0,
        1 if sections else 0,
    )
    vaddr = 0x500000 + data_offset
    segment_size = len(payload) + 64
    if wide:
        program = struct.pack(
            order + program_layout, 1, 6, data_offset, vaddr, vaddr, segment_size, segment_size, 16
        )
    else:
        program = struct.pack(
            order + program_layout, 1, data_offset, vaddr, vaddr, segment_size, segment_size, 6, 16
        )
    table = bytes(sizes[2])  # the null section
    table += struct.pack(order + section_layout, 1, 3, 0, 0, names_offset, len(names), 0, 0, 1, 0)
    table += struct.pack(
        order + section_layout, 11, 1, 3, vaddr, data_offset, len(payload), 0, 0, 16, 0
    )
    image = bytearray(header + program)
    image += bytes(data_offset - len(image)) + payload + b"\xaa" * 64 + names
    image += bytes(table_offset - len(image)) + (table if sections else b"")
    return bytes(image)


@pytest.mark.parametrize("sections", [True, False], ids=["sections", "segments"])
@pytest.mark.parametrize("big", [False, True], ids=["little", "big"])
@pytest.mark.parametrize("wide", [False, True], ids=["elf32", "elf64"])
def test_handmade_go_binaries(wide: bool, big: bool, sections: bool) -> None:
    image = _elf(_buildinfo(MODULE_INFO), wide=wide, big=big, sections=sections)
    found = go_packages("usr/bin/app", _memory_reader(image), len(image))
    assert [(p.name, p.version, p.purl) for p in found] == MODULES
    assert all(p.found_in == "usr/bin/app" for p in found)


def test_the_magic_counts_only_on_a_16_byte_boundary() -> None:
    payload = b"\x00" * 8 + b"\xff Go buildinf:" + bytes(10) + _buildinfo(MODULE_INFO)
    image = _elf(payload, wide=True, big=False, sections=False)
    assert [p.name for p in go_packages("a", _memory_reader(image), len(image))] == [
        m[0] for m in MODULES
    ]


def test_the_older_pointer_format_is_not_read() -> None:
    image = _elf(_buildinfo(MODULE_INFO, flags=0x0), wide=True, big=False)
    assert go_packages("a", _memory_reader(image), len(image)) == []


def test_a_header_without_module_information() -> None:
    """A program built outside a module (GOPATH mode, or Go without -buildvcs): no packages."""
    blob = _buildinfo("")[: -(2 * 16 + 1)] + _uvarint(0)
    image = _elf(blob, wide=True, big=False)
    assert go_packages("a", _memory_reader(image), len(image)) == []
    no_version = _elf(_buildinfo(MODULE_INFO, version=b""), wide=True, big=False)
    assert go_packages("a", _memory_reader(no_version), len(no_version)) == []


@pytest.mark.parametrize(
    "patch",
    [
        {0x3C: struct.pack("<H", 0xFFFF), 0x3A: struct.pack("<H", 0xFFFF)},  # huge section table
        {0x38: struct.pack("<H", 0xFFFF), 0x36: struct.pack("<H", 0xFFFF)},  # huge program table
        {0x28: struct.pack("<Q", 1 << 62)},  # section headers past the end
        {0x20: struct.pack("<Q", (1 << 64) - 1), 0x28: struct.pack("<Q", 0)},
        {0x3E: struct.pack("<H", 0xFFFF)},  # SHN_XINDEX: the names are elsewhere
        {0x3A: struct.pack("<H", 8)},  # section headers too small to hold one
        {0x100 + 32: _uvarint((1 << 63) + 5)},  # a version longer than the file
        {0x100 + 32: b"\xff" * 10},  # a varint that never ends
        {0x100 + 41: _uvarint(1 << 40)},  # module information longer than allowed
        {0x100 + 41: _uvarint(1 << 20)},  # longer than the file
    ],
)
def test_hostile_headers(patch: dict[int, bytes]) -> None:
    image = bytearray(_elf(_buildinfo(MODULE_INFO), wide=True, big=False))
    for offset, value in patch.items():
        image[offset : offset + len(value)] = value
    reads: list[int] = []
    found = go_packages("a", _memory_reader(bytes(image), reads), len(image))
    assert all(isinstance(p, Package) for p in found)
    assert sum(reads) <= 4 << 20
    # Claiming to be far larger than the bytes there are changes nothing either.
    reads.clear()
    go_packages("a", _memory_reader(bytes(image), reads), 1 << 40)
    assert sum(reads) <= 4 << 20


def test_handmade_binaries_mutated_never_raise() -> None:
    rng = random.Random(11)
    originals = [
        _elf(_buildinfo(MODULE_INFO), wide=wide, big=big, sections=sections)
        for wide in (False, True)
        for big in (False, True)
        for sections in (False, True)
    ]
    for _ in range(2000):
        data = bytearray(rng.choice(originals))
        for _ in range(rng.randrange(1, 6)):
            data[rng.randrange(len(data))] = rng.getrandbits(8)
        if rng.random() < 0.2:
            del data[rng.randrange(len(data)) :]
        reads: list[int] = []
        for package in go_packages("a", _memory_reader(bytes(data), reads), len(data)):
            assert package.ecosystem == "golang" and package.found_in == "a"
        assert sum(reads) <= 4 << 20
