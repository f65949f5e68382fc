"""The packages an image holds, read from its package databases and its Go binaries' build
information without running anything: what an SBOM lists besides the files.

Everything here reads hostile bytes (any image can be built FROM anything), so every parser
gives up quietly on input it does not understand, bounds what it keeps, and never loops on a
count or an offset it has not checked against the data it came from.
"""

from __future__ import annotations

import codecs
import io
import itertools
import json
import re
import struct
from collections.abc import Callable, Iterator
from urllib.parse import quote

from .inventory import Package

MAX_DATABASE = 64 << 20  # bytes of a database file read at most; larger ones are skipped

# A field value kept at most (characters): real ones are far shorter, hostile ones are cut.
_MAX_FIELD = 4096
# Packages taken from one file at most: a large distribution image has a few thousand, and a
# file of nothing but tiny records would otherwise cost gigabytes of Package objects.
_MAX_PACKAGES = 100_000
# A package.json is parsed only up to this size: real ones are kilobytes, and JSON's objects
# cost many times their text in memory.
_MAX_PACKAGE_JSON = 4 << 20


def is_database(path: str) -> bool:
    """Whether an image path (no leading slash) is a package database this module reads."""
    return _kind(path) is not None


def database_packages(path: str, data: bytes) -> list[Package]:
    """The packages a database file at `path` lists; [] for paths it does not know or data it
    cannot parse (never raises on bad bytes)."""
    kind = _kind(path)
    if kind is None or len(data) > MAX_DATABASE:
        return []
    return _READERS[kind](path, data)


def go_packages(path: str, read: Callable[[int, int], bytes], size: int) -> list[Package]:
    """The main module and module dependencies a Go binary records in its build information
    (what `go version -m` prints); [] when the file is not a Go binary. `read(offset, length)`
    returns that many bytes of the file from offset (fewer at its end); `size` is its length.

    Only the build information of Go 1.18 and later (its strings stored inline) is read: the
    older format points at strings in the program's memory image, which would take following
    virtual addresses through the segments, and such binaries are [] here. At most 4 MiB of
    the file are read, in a few small reads; errors raised by `read` itself propagate.
    """
    reader = _Reader(read, size)
    try:
        found = _find_buildinfo(reader)
        if found is None:
            return []
        module_info = _inline_module_info(reader, found)
    except _Exhausted:
        return []
    if module_info is None:
        return []
    return _go_modules(path, module_info)


# -- Which file is which -------------------------------------------------------------------------


def _kind(path: str) -> str | None:
    """The reader for an image path, or None: the fixed places of apk and dpkg, Python's
    metadata folders, and a package.json that is a package's own (directly in its folder
    under node_modules, not one of its subfolders')."""
    path = path.lstrip("/")
    if path == "lib/apk/db/installed":
        return "apk"
    if path == "var/lib/dpkg/status":
        return "dpkg"
    if path.startswith("var/lib/dpkg/status.d/"):
        name = path[len("var/lib/dpkg/status.d/") :]
        if name and "/" not in name and not name.endswith(".md5sums"):
            return "dpkg"
        return None
    parts = path.split("/")
    if len(parts) < 2:
        return None
    folder = parts[-2]
    if parts[-1] == "METADATA" and folder.endswith(".dist-info") and folder != ".dist-info":
        return "python"
    if parts[-1] == "PKG-INFO" and folder.endswith(".egg-info") and folder != ".egg-info":
        return "python"
    if parts[-1] == "package.json" and _is_package_folder(parts[:-1]):
        return "npm"
    return None


def _is_package_folder(parts: list[str]) -> bool:
    """Whether a folder is a package installed in node_modules (`node_modules/NAME` or
    `node_modules/@SCOPE/NAME`)."""
    if len(parts) < 2 or not parts[-1] or parts[-1].startswith((".", "@")):
        return False
    if parts[-2] == "node_modules":
        return True
    return (
        len(parts) >= 3
        and parts[-3] == "node_modules"
        and parts[-2].startswith("@")
        and len(parts[-2]) > 1
    )


# -- Package URLs --------------------------------------------------------------------------------


def _purl(
    kind: str,
    name: str,
    *,
    namespace: str = "",
    version: str = "",
    qualifiers: dict[str, str] | None = None,
) -> str:
    """A package URL: every component percent-encoded (only letters, digits and `.-_~` stay
    as they are), namespace segments kept apart by `/`, qualifiers sorted and empty ones left
    out, as the purl specification asks."""
    text = f"pkg:{kind}/"
    segments = [_encode(segment) for segment in namespace.split("/") if segment]
    if segments:
        text += "/".join(segments) + "/"
    text += _encode(name)
    if version:
        text += "@" + _encode(version)
    pairs = sorted((key, value) for key, value in (qualifiers or {}).items() if value)
    if pairs:
        text += "?" + "&".join(f"{key}={_encode(value)}" for key, value in pairs)
    return text


def _encode(text: str) -> str:
    return quote(text, safe="")


# -- RFC 822-like stanzas (apk, dpkg, Python metadata) -------------------------------------------


def _lines(data: bytes) -> Iterator[bytes]:
    """The lines of a file one at a time without their ends: a database can be large, and a
    list of all its lines costs many times its size."""
    for line in io.BytesIO(data):
        yield line.rstrip(b"\r\n")


def _text(value: bytes) -> str:
    return value[:_MAX_FIELD].decode("utf-8", "replace").strip()


def _apk_packages(path: str, data: bytes) -> list[Package]:
    """apk's installed database: one `X:value` line per field, a blank line between
    packages."""
    wanted = {b"P", b"V", b"A", b"L", b"m", b"T", b"o"}
    found: list[Package] = []
    record: dict[bytes, str] = {}
    for line in itertools.chain(_lines(data), [b""]):
        if not line.strip():
            if record:
                package = _apk_package(path, record)
                if package is not None:
                    found.append(package)
                record = {}
                if len(found) >= _MAX_PACKAGES:
                    break
            continue
        key, colon, value = line.partition(b":")
        if colon and key in wanted and key not in record:
            record[key] = _text(value)
    return found


def _apk_package(path: str, record: dict[bytes, str]) -> Package | None:
    name, version = record.get(b"P", ""), record.get(b"V", "")
    if not name or not version:
        return None
    return Package(
        name=name,
        version=version,
        ecosystem="apk",
        purl=_purl(
            "apk",
            name,
            namespace="alpine",
            version=version,
            qualifiers={"arch": record.get(b"A", "")},
        ),
        found_in=path,
        licenses=record.get(b"L", ""),
        supplier=record.get(b"m", ""),
        description=record.get(b"T", ""),
    )


def _stanzas(data: bytes, wanted: set[str]) -> Iterator[dict[str, str]]:
    """The paragraphs of a deb822 file (dpkg's status): `Field: value` lines, continuation
    lines starting with a space or tab, blank lines between paragraphs. Only the first line of
    the wanted fields is kept (field names lowercased)."""
    record: dict[str, str] = {}
    for line in _lines(data):
        if not line.strip():
            if record:
                yield record
                record = {}
            continue
        if line[:1] in (b" ", b"\t"):
            continue  # a continuation line: only the first lines are kept
        key, colon, value = line.partition(b":")
        if not colon or len(key) > 64:
            continue  # not a field: a name is a word, not a whole line of garbage
        field = key.decode("latin-1").strip().lower()
        if field in wanted and field not in record:
            record[field] = _text(value)
    if record:
        yield record


def _dpkg_packages(path: str, data: bytes) -> list[Package]:
    """dpkg's status file, or one of distroless's status.d files (the same format, one
    package each, usually without a Status field: what is there is installed)."""
    wanted = {"package", "version", "architecture", "maintainer", "description", "status"}
    found: list[Package] = []
    for record in _stanzas(data, wanted):
        if len(found) >= _MAX_PACKAGES:
            break
        name, version = record.get("package", ""), record.get("version", "")
        status = record.get("status")
        if not name or not version:
            continue
        if status is not None and status.split()[-1:] != ["installed"]:
            continue
        architecture = record.get("architecture", "")
        # The Source field names the source package; Package has no place for it and the purl
        # asked for is NAME@VERSION?arch=ARCH, so it is not read.
        found.append(
            Package(
                name=name,
                version=version,
                ecosystem="deb",
                purl=_purl(
                    "deb",
                    name,
                    namespace="debian",
                    version=version,
                    qualifiers={"arch": architecture},
                ),
                found_in=path,
                supplier=record.get("maintainer", ""),
                description=record.get("description", ""),
            )
        )
    return found


def _python_packages(path: str, data: bytes) -> list[Package]:
    """A distribution's METADATA or PKG-INFO: email-style headers up to the first blank
    line (the long description follows)."""
    headers: dict[str, list[str]] = {}
    wanted = {
        "name",
        "version",
        "license",
        "license-expression",
        "author",
        "author-email",
        "summary",
    }
    current: list[str] | None = None
    for line in _lines(data):
        if not line:
            break  # the headers end at an empty line; one of spaces continues a folded value
        if line[:1] in (b" ", b"\t"):
            if current is not None and len(current) < 64:
                current.append(_text(line))
            continue
        current = None
        key, colon, value = line.partition(b":")
        if not colon or len(key) > 64:
            continue  # not a field: a name is a word, not a whole line of garbage
        field = key.decode("latin-1").strip().lower()
        if field == "classifier":
            classifiers = headers.setdefault(field, [])
            if len(classifiers) < 256:
                classifiers.append(_text(value))
        elif field in wanted and field not in headers:
            current = headers[field] = [_text(value)]
    name = _first(headers, "name")
    version = _first(headers, "version")
    if not name or not version:
        return []
    return [
        Package(
            name=name,
            version=version,
            ecosystem="pypi",
            purl=_purl("pypi", re.sub(r"[-_.]+", "-", name).lower(), version=version),
            found_in=path,
            licenses=_python_license(headers),
            supplier=_first(headers, "author") or _first(headers, "author-email"),
            description=_first(headers, "summary"),
        )
    ]


def _first(headers: dict[str, list[str]], field: str) -> str:
    """The first line of a header's value; "" for UNKNOWN, which distutils wrote for a field
    the author did not fill in."""
    lines = headers.get(field)
    return lines[0] if lines and lines[0] != "UNKNOWN" else ""


def _python_license(headers: dict[str, list[str]]) -> str:
    """License-Expression when there is one (an SPDX expression), else a one-line License;
    a License that holds a whole license text says nothing short, so the license classifiers
    stand in for it."""
    expression = _first(headers, "license-expression")
    if expression:
        return expression
    license_lines = [line for line in headers.get("license", []) if line]
    if len(license_lines) == 1 and license_lines[0] != "UNKNOWN":
        return license_lines[0]
    classified = [
        classifier.rpartition("::")[2].strip()
        for classifier in headers.get("classifier", [])
        if classifier.startswith("License ::") and classifier.count("::") >= 2
    ]
    return ", ".join(dict.fromkeys(name for name in classified if name))


# -- npm -----------------------------------------------------------------------------------------


def _npm_packages(path: str, data: bytes) -> list[Package]:
    """An installed package's package.json."""
    if len(data) > _MAX_PACKAGE_JSON:
        return []
    try:
        document = json.loads(data.removeprefix(codecs.BOM_UTF8))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return []
    if not isinstance(document, dict):
        return []
    name, version = document.get("name"), document.get("version")
    if not isinstance(name, str) or not isinstance(version, str):
        return []
    name, version = name.strip()[:_MAX_FIELD], version.strip()[:_MAX_FIELD]
    if not name or not version:
        return []
    scope, slash, bare = name.rpartition("/")
    if slash and not (scope.startswith("@") and len(scope) > 1 and "/" not in scope and bare):
        return []  # a name with a slash is a scoped name, or not an npm name at all
    description = document.get("description")
    return [
        Package(
            name=name,
            version=version,
            ecosystem="npm",
            purl=_purl("npm", bare, namespace=scope, version=version),
            found_in=path,
            licenses=_npm_license(document),
            supplier=_npm_person(document.get("author")),
            description=description.strip()[:_MAX_FIELD] if isinstance(description, str) else "",
        )
    ]


def _npm_license(document: dict[str, object]) -> str:
    """`license` as a string (an SPDX expression) or the older {"type": ...} object, or the
    deprecated `licenses` list of those."""
    stated = document.get("license")
    if isinstance(stated, str):
        return stated.strip()[:_MAX_FIELD]
    if isinstance(stated, dict) and isinstance(stated.get("type"), str):
        return str(stated["type"]).strip()[:_MAX_FIELD]
    listed = document.get("licenses")
    if isinstance(listed, list):
        names = [
            str(entry["type"]).strip()
            for entry in listed[:64]
            if isinstance(entry, dict) and isinstance(entry.get("type"), str)
        ]
        return ", ".join(name for name in names if name)[:_MAX_FIELD]
    return ""


def _npm_person(person: object) -> str:
    """An author as `"Name <email> (url)"` or {"name": ...}."""
    if isinstance(person, str):
        return person.strip()[:_MAX_FIELD]
    if isinstance(person, dict) and isinstance(person.get("name"), str):
        return str(person["name"]).strip()[:_MAX_FIELD]
    return ""


_READERS: dict[str, Callable[[str, bytes], list[Package]]] = {
    "apk": _apk_packages,
    "dpkg": _dpkg_packages,
    "python": _python_packages,
    "npm": _npm_packages,
}


# -- Go build information ------------------------------------------------------------------------

# Bytes read from one file at most: the headers, the section names, the start of the data and
# the two strings. A real binary needs a few hundred kilobytes at most.
_GO_READ_BUDGET = 4 << 20
_BUILDINFO_MAGIC = b"\xff Go buildinf:"
_BUILDINFO_ALIGN = 16
_BUILDINFO_HEADER = 32
_FLAG_INLINE = 0x2  # the strings follow the header (Go 1.18 on) instead of being pointed to
# How far into the build information section, or a data segment, the header is looked for:
# the Go linker puts it first in the data segment, so Go itself looks in the first 64 KiB.
_SEARCH_SPAN = 64 << 10
_MAX_HEADER_TABLE = 1 << 20  # bytes of section (or program) headers read at most
_MAX_SECTION_NAMES = 1 << 20
_MAX_GO_VERSION = 4 << 10
_MAX_MODULE_INFO = 2 << 20
_MAX_SEGMENTS_SEARCHED = 8
_SENTINEL = 16  # the module information is framed by 16 bytes at each end

_SHT_NOBITS = 8
_PT_LOAD = 1
_PF_X, _PF_W = 0x1, 0x2


class _Exhausted(Exception):
    """The file ended early or the read budget ran out: stop reading it."""


class _Reader:
    """Reads of one file, each checked against its size and all against one budget."""

    def __init__(self, read: Callable[[int, int], bytes], size: int) -> None:
        self._read = read
        self.size = max(size, 0)
        self._left = _GO_READ_BUDGET

    def at_most(self, offset: int, length: int) -> bytes:
        """Up to `length` bytes from `offset` (fewer at the file's end)."""
        if offset < 0 or length < 0 or offset >= self.size:
            raise _Exhausted
        length = min(length, self.size - offset)
        if length > self._left:
            raise _Exhausted
        self._left -= length
        return bytes(self._read(offset, length))[:length]

    def exactly(self, offset: int, length: int) -> bytes:
        data = self.at_most(offset, length) if length else b""
        if len(data) != length:
            raise _Exhausted
        return data


class _Elf:
    """The few fields of an ELF header that lead to the sections and segments."""

    def __init__(self, header: bytes) -> None:
        self.wide = header[4] == 2  # ELFCLASS64
        self.order = "<" if header[5] == 1 else ">"  # ELFDATA2LSB or ELFDATA2MSB
        if self.wide:
            fields = self.unpack("QQ", header, 0x20)
            sizes = self.unpack("HHHHH", header, 0x36)
        else:
            fields = self.unpack("II", header, 0x1C)
            sizes = self.unpack("HHHHH", header, 0x2A)
        self.phoff, self.shoff = fields
        self.phentsize, self.phnum, self.shentsize, self.shnum, self.shstrndx = sizes

    def unpack(self, layout: str, data: bytes, offset: int) -> tuple[int, ...]:
        return struct.unpack_from(self.order + layout, data, offset)


def _find_buildinfo(reader: _Reader) -> int | None:
    """The file offset of the build information header, or None: in the `.go.buildinfo`
    section when the section headers name one, else (stripped of its section headers, or
    with the section renamed) in a writable data segment."""
    ident = reader.at_most(0, 64)
    if len(ident) < 52 or ident[:4] != b"\x7fELF" or ident[4] not in (1, 2):
        return None
    if ident[5] not in (1, 2) or (ident[4] == 2 and len(ident) < 64):
        return None
    elf = _Elf(ident)
    section = _buildinfo_section(reader, elf)
    places = [section] if section is not None else []
    for start, length in places + _data_segments(reader, elf):
        found = _search(reader, start, length)
        if found is not None:
            return found
    return None


def _table(reader: _Reader, offset: int, *, count: int, entry: int) -> list[bytes]:
    """The entries of a header table, or [] when the table does not fit the file or the
    limit (a hostile count is not looped over)."""
    if offset <= 0 or count <= 0 or count * entry > _MAX_HEADER_TABLE:
        return []
    if offset + count * entry > reader.size:
        return []
    data = reader.exactly(offset, count * entry)
    return [data[i * entry : (i + 1) * entry] for i in range(count)]


def _buildinfo_section(reader: _Reader, elf: _Elf) -> tuple[int, int] | None:
    """The file offset and size of the `.go.buildinfo` section, if the file names one."""
    needed = 64 if elf.wide else 40
    if elf.shentsize < needed:
        return None
    headers = _table(reader, elf.shoff, count=elf.shnum, entry=elf.shentsize)
    if not headers or elf.shstrndx >= len(headers):
        return None
    sections = []
    for entry in headers:
        if elf.wide:
            name, kind, _, _, offset, size = elf.unpack("IIQQQQ", entry, 0)
        else:
            name, kind, _, _, offset, size = elf.unpack("IIIIII", entry, 0)
        sections.append((name, kind, offset, size))
    _, _, names_offset, names_size = sections[elf.shstrndx]
    if names_offset >= reader.size:
        return None
    names = reader.at_most(names_offset, min(names_size, _MAX_SECTION_NAMES))
    wanted = b".go.buildinfo\x00"
    for name, kind, offset, size in sections:
        if kind != _SHT_NOBITS and names[name : name + len(wanted)] == wanted:
            if offset < reader.size and size >= _BUILDINFO_HEADER:
                return offset, size
    return None


def _data_segments(reader: _Reader, elf: _Elf) -> list[tuple[int, int]]:
    """The file offset and size of each loaded segment that is writable and not executable
    (where the Go linker puts the build information), in the file's order."""
    needed = 56 if elf.wide else 32
    if elf.phentsize < needed:
        return []
    found = []
    for entry in _table(reader, elf.phoff, count=elf.phnum, entry=elf.phentsize):
        if elf.wide:
            kind, flags, offset, _, _, size = elf.unpack("IIQQQQ", entry, 0)
        else:
            kind, offset, _, _, size, _, flags = elf.unpack("IIIIIII", entry, 0)
        if kind == _PT_LOAD and flags & (_PF_X | _PF_W) == _PF_W and offset < reader.size:
            found.append((offset, size))
    return found[:_MAX_SEGMENTS_SEARCHED]


def _search(reader: _Reader, start: int, length: int) -> int | None:
    """The file offset of the build information magic on a 16-byte boundary (counted from
    `start`, as Go counts from the start of the data) within the first _SEARCH_SPAN bytes."""
    data = reader.at_most(start, min(length, _SEARCH_SPAN))
    position = data.find(_BUILDINFO_MAGIC)
    while position >= 0:
        if position % _BUILDINFO_ALIGN == 0:
            return start + position
        position = data.find(_BUILDINFO_MAGIC, position + 1)
    return None


def _inline_module_info(reader: _Reader, offset: int) -> str | None:
    """The module information of a Go 1.18+ build information header at `offset`; None for
    the older pointer format and for a header without a Go version."""
    header = reader.exactly(offset, _BUILDINFO_HEADER)
    if not header[15] & _FLAG_INLINE:
        return None
    version, position = _string(reader, offset + _BUILDINFO_HEADER, _MAX_GO_VERSION)
    if not version:
        return None
    module_info, _ = _string(reader, position, _MAX_MODULE_INFO)
    if len(module_info) > 2 * _SENTINEL:
        module_info = module_info[_SENTINEL:-_SENTINEL]
    else:
        module_info = b""
    return module_info.decode("utf-8", "replace")


def _string(reader: _Reader, offset: int, limit: int) -> tuple[bytes, int]:
    """A string written as its length (an unsigned varint) and its bytes, and the offset just
    past it; a length over `limit` ends the reading."""
    prefix = reader.at_most(offset, 10)
    end = next((i + 1 for i, byte in enumerate(prefix) if not byte & 0x80), 0)
    if not end:
        raise _Exhausted  # no final byte within ten: not a varint
    length = sum((byte & 0x7F) << (7 * i) for i, byte in enumerate(prefix[:end]))
    if length > limit:
        raise _Exhausted
    return reader.exactly(offset + end, length), offset + end + length


def _go_modules(path: str, module_info: str) -> list[Package]:
    """The main module and the dependencies of module information lines (`mod`, `dep`, and
    `=>` for a replacement of the line before). A replacement by another module (it has a
    version) names what was built; one by a local folder (no version, or `(devel)` as Go 1.19
    writes) keeps the required module's path and version."""
    modules: list[tuple[str, str]] = []
    replaceable = False
    for line in module_info.split("\n"):
        kind, _, rest = line.partition("\t")
        fields = rest.split("\t")
        if len(modules) >= _MAX_PACKAGES:
            break
        if kind in ("mod", "dep") and fields[0]:
            modules.append((fields[0], fields[1] if len(fields) > 1 else ""))
            replaceable = True
        elif kind == "=>" and replaceable and fields[0]:
            version = fields[1] if len(fields) > 1 else ""
            if version and version != "(devel)":
                modules[-1] = (fields[0], version)
            replaceable = False
        elif line.strip():
            replaceable = False
    return [_go_package(path, module, version) for module, version in modules]


def _go_package(path: str, module: str, version: str) -> Package:
    namespace, _, name = module[:_MAX_FIELD].rpartition("/")
    return Package(
        name=module[:_MAX_FIELD],
        version=version[:_MAX_FIELD],
        ecosystem="golang",
        purl=_purl(
            "golang",
            name,
            namespace=namespace,
            version="" if version == "(devel)" else version[:_MAX_FIELD],
        ),
        found_in=path,
    )
