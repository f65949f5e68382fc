"""Target platforms (os/arch[/variant]) in the OCI vocabulary; the host's is the default."""

from __future__ import annotations

import platform as host
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import UsageError

# uname -m -> (GOARCH, variant), as Docker names them.
MACHINE_ARCH = {
    "x86_64": ("amd64", ""),
    "amd64": ("amd64", ""),
    "aarch64": ("arm64", ""),
    "arm64": ("arm64", ""),
    "armv7l": ("arm", "v7"),
    "armv6l": ("arm", "v6"),
    "i386": ("386", ""),
    "i686": ("386", ""),
    "ppc64le": ("ppc64le", ""),
    "s390x": ("s390x", ""),
    "riscv64": ("riscv64", ""),
}


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        return "/".join(part for part in (self.os, self.architecture, self.variant) if part)

    def to_json(self) -> dict[str, str]:
        value = {"os": self.os, "architecture": self.architecture}
        if self.variant:
            value["variant"] = self.variant
        return value

    @staticmethod
    def from_json(value: Mapping[str, Any]) -> Platform:
        return Platform(
            str(value.get("os") or ""),
            str(value.get("architecture") or ""),
            str(value.get("variant") or ""),
        )

    def matches(self, offered: Platform) -> bool:
        """Whether an image for `offered` serves this platform: same os and architecture, and
        the variant, when this one names it, equal or left open by the offer."""
        return (
            offered.os == self.os
            and offered.architecture == self.architecture
            and (not self.variant or offered.variant in ("", self.variant))
        )


def host_platform() -> Platform:
    arch, variant = MACHINE_ARCH.get(host.machine().lower(), (host.machine().lower(), ""))
    return Platform("linux", arch, variant)


def parse_platforms(text: str) -> tuple[Platform, ...]:
    """`--platform linux/amd64,linux/arm64`: each once, in the order given."""
    found: list[Platform] = []
    for item in text.split(","):
        platform = parse_platform(item)
        if platform not in found:
            found.append(platform)
    return tuple(found)


def parse_platform(text: str) -> Platform:
    """`os/arch[/variant]`, e.g. linux/amd64 or linux/arm/v7."""
    if "," in text:
        raise UsageError(f"--platform {text}: one platform is expected here")
    parts = text.strip().lower().split("/")
    if len(parts) not in (2, 3) or not all(re.fullmatch(r"[a-z0-9_.-]+", part) for part in parts):
        raise UsageError(f"invalid platform {text!r}: expected os/arch[/variant], e.g. linux/amd64")
    return Platform(*parts)
