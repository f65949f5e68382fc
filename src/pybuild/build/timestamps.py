"""Which times go into an image. Reproducible by default: without SOURCE_DATE_EPOCH every time
is the Unix epoch; with it, `created` is that moment and file mtimes are clamped to it."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from ..errors import UsageError


@dataclass(frozen=True)
class Timestamps:
    epoch: int = 0
    keep_file_times: bool = False
    source: str = "the default: the Unix epoch, for reproducible digests"  # for explain

    @property
    def file_times(self) -> str:
        """What files' mtimes are in the image, in words."""
        if not self.keep_file_times:
            return f"{self.created}, every file (the epoch)"
        return f"each file's own mtime, clamped to {self.created}"

    @property
    def created(self) -> str:
        moment = dt.datetime.fromtimestamp(self.epoch, dt.timezone.utc)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    def file_mtime(self, mtime: int | None) -> int:
        """A file's mtime in the image: its own, clamped to the epoch, when times are kept."""
        if mtime is None or not self.keep_file_times:
            return self.epoch
        return min(mtime, self.epoch)

    @staticmethod
    def from_environment(value: str | None, option: str | None = None) -> Timestamps:
        """`--timestamp now|SECONDS` wins over SOURCE_DATE_EPOCH; without either, the epoch.
        `now` opts out of reproducibility: the build time, and files' own mtimes."""
        if option is not None and option.lower() == "now":
            return Timestamps(int(time.time()), True, f"{option}: the build's start")
        name, value = (
            ("--timestamp", option) if option is not None else ("SOURCE_DATE_EPOCH", value)
        )
        if value is None or value == "":
            return Timestamps()
        try:
            epoch = int(value)
        except ValueError:
            raise UsageError(f"{name} must be whole seconds (or now), got {value!r}") from None
        if epoch < 0:
            raise UsageError(f"{name} must not be negative, got {value!r}")
        return Timestamps(epoch, True, f"{name}={value}")
