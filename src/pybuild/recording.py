"""The whole-build up-to-date check: an unchanged rebuild is answered without parsing or building.

The layer cache already makes an unchanged rebuild write nothing, but reaching that answer costs
importing the parser and evaluator, parsing and resolving every source. make and ninja answer
the same question from timestamps; this module does it from a stat of every input:

- After a build whose inputs were all local files and whose output is one archive file, the
  CLI records, in the cache directory under a name made from the command line, the working
  directory, the interpreter and machine, and pybuild's own source files: a digest of the stat
  of every input (the Dockerfile, its ignore file, each --build-context, and every entry of the
  context tree except inside directories that .dockerignore leaves out whole), the environment
  variables the build consulted, the output file's stat, and the lines the CLI printed.
- The next identical command walks the same inputs (stats only, no file is read) and, when the
  digest, the environment and the output file all agree, prints those lines and stops.

Nothing here may import more than the standard library's basics: the point is that the answer
costs the interpreter's start and a directory walk. The record holds the inputs as the build
found them when it started, so an input that changed while it ran misses next time. It is
written only when no input changed within RACY_SECONDS before the build (a later change in the
same timestamp tick would keep its stat; git calls these "racy").

Not covered: an upgraded compression library (isal, zstandard). The file still holds a valid
image of the same layers, but a fresh build could store gzip or zstd blobs with other bytes.
"""

from __future__ import annotations

import hashlib
import json
import marshal
import os
import stat
import sys
import time

from .filestat import default_cache_dir, file_stat

FORMAT = 1  # bump when what a record covers changes
RACY_SECONDS = 1.0  # covers filesystems whose timestamps have one-second granularity
COMMANDS = ("build", "explain", "inspect", "parse", "login", "logout")
PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))

FILE_FIELDS = ("mode", "uid", "gid", "size", "mtime", "ctime", "inode", "device")
MTIME, CTIME = FILE_FIELDS.index("mtime"), FILE_FIELDS.index("ctime")
Snapshot = dict  # path -> stat identity (a tuple), or None for a path that does not exist


def cache_dir_from_argv(argv: list[str]) -> str | None:
    """The cache directory a build command line names (None for --no-cache or no build), read
    without the CLI's parser. A misreading only costs a miss: records are written only where
    this agrees with what the CLI parsed."""
    if argv and argv[0] in COMMANDS and argv[0] != "build":
        return None
    chosen = None
    for index, word in enumerate(argv):
        if word == "--":
            break
        if word == "--no-cache":
            return None
        if word == "--cache-dir" and index + 1 < len(argv):
            chosen = argv[index + 1]
        elif word.startswith("--cache-dir="):
            chosen = word.partition("=")[2]
    return os.path.abspath(chosen) if chosen else default_cache_dir()


def code_version() -> str:
    """A digest of the contents of pybuild's own source files and its grammar: a changed or
    upgraded pybuild misses every record, even one whose files kept their sizes and times.
    (Compiled files are left out: Python writes them as modules are first imported.)"""
    grammar = os.path.join(os.path.dirname(os.path.dirname(PACKAGE_DIR)), "grammar")
    digest = hashlib.sha256()
    for root in (PACKAGE_DIR, grammar):
        for directory, folders, names in os.walk(root):
            folders[:] = sorted(name for name in folders if name != "__pycache__")
            for name in sorted(names):
                path = os.path.join(directory, name)
                digest.update(os.path.relpath(path, root).encode() + b"\0")
                with open(path, "rb") as handle:
                    digest.update(handle.read())
    return digest.hexdigest()


def record_path(cache_dir: str, argv: list[str], cwd: str) -> str:
    """Where the record of this command lives. The interpreter and the machine are part of its
    name: a cache directory shared between machines must not answer for another platform."""
    machine = [sys.version, sys.platform, os.uname().machine]
    key = hashlib.sha256(
        json.dumps([FORMAT, machine, code_version(), cwd, argv]).encode()
    ).hexdigest()
    return os.path.join(cache_dir, "builds", f"{key}.json")


def _identity(info: os.stat_result, directory_times: bool) -> tuple:
    """What a change to a path changes. A directory's entries are walked themselves, so its
    mtime counts only when the image keeps file times (SOURCE_DATE_EPOCH clamps them)."""
    if stat.S_ISDIR(info.st_mode):
        return (info.st_mode, info.st_uid, info.st_gid, info.st_mtime_ns if directory_times else 0)
    return (
        info.st_mode,
        info.st_uid,
        info.st_gid,
        info.st_size,
        info.st_mtime_ns,
        info.st_ctime_ns,
        info.st_ino,
        info.st_dev,
    )  # as FILE_FIELDS names them


def snapshot(roots: list[str], directory_times: bool, prune=None) -> Snapshot:
    """The stat identity of every root and, for directories, of everything below them (symlinks
    are not followed below a root). Directories for which `prune(path)` is true are not entered:
    those that .dockerignore leaves out whole, whose contents no build can see."""
    found: Snapshot = {}

    def walk(directory: str) -> None:
        with os.scandir(directory) as entries:
            for entry in entries:
                info = entry.stat(follow_symlinks=False)
                found[entry.path] = _identity(info, directory_times)
                if entry.is_symlink():  # what it points at counts too (a .dockerignore link)
                    try:
                        target = os.stat(entry.path)
                    except OSError:
                        found[entry.path + " ->"] = None
                    else:
                        found[entry.path + " ->"] = _identity(target, directory_times)
                if entry.is_dir(follow_symlinks=False) and not (prune and prune(entry.path)):
                    walk(entry.path)

    for root in roots:
        try:
            info = os.stat(root)
        except OSError:
            found[root] = None
            continue
        found[root] = _identity(info, directory_times)
        if os.path.isdir(root):
            walk(root)
    return found


def digest(found: Snapshot) -> str:
    """A digest of a snapshot. marshal's version 2 writes no back-references, so equal data
    gives equal bytes whatever objects it shares; it is several times faster than repr."""
    return hashlib.sha256(marshal.dumps(sorted(found.items()), 2)).hexdigest()


def replay(argv: list[str]) -> bool:
    """Print what the recorded build of this exact command printed, when nothing it depends on
    has changed; False (and nothing printed) otherwise, whatever is wrong: the CLI then builds
    and reports any real problem (a working directory that is gone, say) itself."""
    try:
        lines = _recorded_lines(argv)
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if lines is None:
        return False
    for stream, text in lines:
        print(text, file=sys.stdout if stream == "out" else sys.stderr)
    return True


def _recorded_lines(argv: list[str]) -> list[tuple[str, str]] | None:
    cache_dir = cache_dir_from_argv(argv)
    if cache_dir is None:
        return None
    cwd = os.getcwd()
    with open(record_path(cache_dir, argv, cwd), encoding="utf-8") as handle:
        record = json.load(handle)
    if record["argv"] != argv or record["cwd"] != cwd:
        return None  # a different command whose name collided
    if any(os.environ.get(name) != value for name, value in record["env"].items()):
        return None
    if file_stat(record["dest"]) != record["dest_stat"]:
        return None
    found = snapshot(record["roots"], record["directory_times"], set(record["pruned"]).__contains__)
    if digest(found) != record["inputs"]:
        return None
    return [(stream, text) for stream, text in record["lines"]]


class Recording:
    """Watches one build: a snapshot before it starts, a record after it succeeds (when sound)."""

    def __init__(
        self,
        argv: list[str],
        cache_dir: str,
        roots: list[str],
        *,
        directory_times: bool,
        prune=None,
    ):
        self.argv, self.cache_dir = argv, cache_dir
        self.roots = sorted(set(roots))
        self.directory_times = directory_times
        self.started = time.time_ns()
        self.pruned: list[str] = []  # the directories `prune` kept the walk out of

        def pruning(path: str) -> bool:
            if prune is not None and prune(path):
                self.pruned.append(path)
                return True
            return False

        self.before = snapshot(self.roots, directory_times, pruning)
        self.pruned.sort()

    def racy(self, found: Snapshot) -> bool:
        """Whether some input changed so shortly before the build that a later change in the
        same timestamp tick could leave its stat as it was."""
        limit = self.started - int(RACY_SECONDS * 1e9)
        return any(
            identity is not None
            and len(identity) == len(FILE_FIELDS)
            and max(identity[MTIME], identity[CTIME]) >= limit
            for identity in found.values()
        )

    def finish(
        self,
        dest: str,
        env: dict[str, str | None],
        lines: list[tuple[str, str]],
        *,
        identity: list[int] | None,
    ) -> bool:
        """Write the record for this build's output file; False when it would not be sound.
        The record holds the inputs as they were before the build: one changed while it ran has
        a newer stat now (it was not racy before), so the next run misses and builds. So does
        the run after a build that wrote its output inside the context; the one after that,
        which wrote nothing, is answered. `identity` is the file the build wrote at `dest` (or
        found there): when `dest` is another file by now, nothing is recorded."""
        if self.racy(self.before) or identity is None or file_stat(dest) != identity:
            return False
        inputs = digest(self.before)
        cwd = os.getcwd()
        dest = os.path.abspath(dest)
        record = {
            "argv": self.argv,
            "cwd": cwd,
            "env": env,
            "roots": self.roots,
            "directory_times": self.directory_times,
            "pruned": self.pruned,
            "inputs": inputs,
            "dest": dest,
            "dest_stat": identity,
            "lines": [list(line) for line in lines],
        }
        path = record_path(self.cache_dir, self.argv, cwd)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        partial = f"{path}.{os.getpid()}.partial"
        with open(partial, "w", encoding="utf-8") as handle:
            json.dump(record, handle)
        os.replace(partial, path)
        return True
