"""What the CLI shows of a build's events (events.py) on stderr, in the modes buildx names:
`tty` (one line redrawn, at most ten times a second), `plain` (a line per layer), `json` (one
event per line, for tools) and `quiet`. `auto` is tty on a terminal, else plain. Notes (a blob
pushed, what `docker load` said) are shown in every mode; json wraps them as events."""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any, TextIO

from .events import Reporter

MODES = ("auto", "plain", "tty", "quiet", "json")


def _short(digest: str) -> str:
    return digest.partition(":")[2][:12] or digest


class QuietProgress(Reporter):
    """No progress; notes only. Blobs move in parallel threads: every renderer writes under
    one lock so lines never interleave."""

    def __init__(self, out: TextIO):
        self.out = out
        self.lock = threading.Lock()

    def note(self, text: str) -> None:
        with self.lock:
            print(text, file=self.out)


class PlainProgress(QuietProgress):
    STEPS = 4  # a blob's line at each quarter, and when it is done

    def __init__(self, out: TextIO):
        super().__init__(out)
        self.number = self.total = 0
        self.started = 0.0
        self.created_by = ""
        self.files = self.size = self.done_files = self.done_size = 0
        self.shown_steps: dict[str, int] = {}

    def transfer(self, digest: str, done: int, total: int, *, action: str) -> None:
        step = done * self.STEPS // total if total else 0
        with self.lock:
            if self.shown_steps.get(digest, -1) >= step:
                return
            self.shown_steps[digest] = step
            how = "done" if done >= total else f"{step * 100 // self.STEPS}%"
            print(f"{action} {_short(digest)}: {done / 2**20:.1f} MiB {how}", file=self.out)

    def layer_started(self, number, total, created_by, *, files, size) -> None:
        self.number, self.total, self.created_by = number, total, created_by
        self.files, self.size, self.started = files or 0, size or 0, time.monotonic()
        self.done_files = self.done_size = 0

    def advanced(self, files, size) -> None:
        self.done_files += files
        self.done_size += size

    def layer_finished(self, diff_id, digest, stored, *, cached) -> None:
        took = time.monotonic() - self.started
        how = (
            "cached" if cached else f"{self.done_files} files, {self.done_size} bytes, {took:.2f}s"
        )
        print(f"[{self.number}/{self.total}] {self.created_by}: {how} -> {digest}", file=self.out)


class TtyProgress(PlainProgress):
    INTERVAL = 0.1
    wants_totals = True  # the line shows done/total

    def __init__(self, out: TextIO):
        super().__init__(out)
        self.shown = 0.0
        self.moving: dict[str, tuple[str, int, int]] = {}  # digest -> action, done, total

    def layer_started(self, number, total, created_by, *, files, size) -> None:
        super().layer_started(number, total, created_by, files=files, size=size)
        self._draw(force=True)

    def advanced(self, files, size) -> None:
        super().advanced(files, size)
        self._draw()

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.shown < self.INTERVAL:
            return
        self.shown = now
        mib, total = self.done_size / 2**20, self.size / 2**20
        text = (
            f"[{self.number}/{self.total}] {self.created_by[:50]}  "
            f"{self.done_files}/{self.files} files  {mib:.1f}/{total:.1f} MiB"
        )
        print(f"\r\x1b[K{text}", end="", file=self.out, flush=True)

    def layer_finished(self, diff_id, digest, stored, *, cached) -> None:
        print("\r\x1b[K", end="", file=self.out)
        super().layer_finished(diff_id, digest, stored, cached=cached)

    def transfer(self, digest: str, done: int, total: int, *, action: str) -> None:
        with self.lock:
            if done >= total:
                self.moving.pop(digest, None)
            else:
                self.moving[digest] = (action, done, total)
            now = time.monotonic()
            if done < total and now - self.shown < self.INTERVAL:
                return
            self.shown = now
            parts = [
                f"{what} {_short(digest)} {moved * 100 // size}%"
                for digest, (what, moved, size) in list(self.moving.items())[:4]
            ]
            end = "" if parts else "\r\x1b[K"
            print(
                f"\r\x1b[K{'  '.join(parts)}" if parts else end, end="", file=self.out, flush=True
            )

    def download(self, url: str, done: int, total: int) -> None:
        name = url.rstrip("/").rpartition("/")[2] or url
        shown = f"{done * 100 // total:3d}%" if total else f"{done // 1024} KiB"
        end = "\n" if total and done >= total else ""
        print(f"\r\x1b[KADD {name}: {shown}", end=end, file=self.out, flush=True)


class JsonProgress(Reporter):
    wants_totals = True  # layer_started events carry them

    def __init__(self, out: TextIO):
        self.out = out
        self.lock = threading.Lock()
        self.last: dict[str, float] = {}  # digest -> when its last transfer event went out

    def _emit(self, **event: Any) -> None:
        line = json.dumps(event)
        with self.lock:
            print(line, file=self.out, flush=True)

    def note(self, text: str) -> None:
        self._emit(event="note", text=text)

    def transfer(self, digest: str, done: int, total: int, *, action: str) -> None:
        now = time.monotonic()
        with self.lock:
            if done < total and now - self.last.get(digest, 0.0) < 0.5:
                return
            self.last[digest] = now
        self._emit(event="transfer", action=action, digest=digest, done=done, total=total)

    def layer_started(self, number, total, created_by, *, files, size) -> None:
        self._emit(
            event="layer_started",
            layer=number,
            layers=total,
            created_by=created_by,
            files=files,
            bytes=size,
        )

    def layer_finished(self, diff_id, digest, stored, *, cached) -> None:
        self._emit(
            event="layer_finished",
            diff_id=diff_id,
            digest=digest,
            stored_bytes=stored,
            cached=cached,
        )


def make_progress(mode: str, out: TextIO | None = None) -> Reporter:
    """The renderer for `mode`, writing to `out` (the stderr of the moment when not given: a
    default bound at import would outlive a replaced sys.stderr)."""
    out = out if out is not None else sys.stderr
    if mode == "auto":
        mode = "tty" if out.isatty() else "plain"
    renderers: dict[str, type[Reporter]] = {
        "plain": PlainProgress,
        "tty": TtyProgress,
        "json": JsonProgress,
        "quiet": QuietProgress,
    }
    return renderers[mode](out)  # type: ignore[call-arg]
