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

    def normalized(self) -> Platform:
        """As containerd normalizes: `arm64/v8` is `arm64`, a bare `arm` is `arm/v7`, and
        `armhf`/`armel`/`aarch64` are named as Go names them."""
        arch, variant = self.architecture, self.variant
        if arch in ("aarch64", "arm64"):
            arch, variant = "arm64", "" if variant in ("8", "v8", "v8.0") else variant
        elif arch == "armhf":
            arch, variant = "arm", "v7"
        elif arch == "armel":
            arch, variant = "arm", "v6"
        elif arch == "arm":
            variant = "v7" if variant in ("", "7") else variant
            variant = f"v{variant}" if variant.isdigit() else variant
        elif arch in ("x86_64", "x86-64"):
            arch = "amd64"
        return Platform(self.os, arch, variant)

    def matches(self, offered: Platform) -> bool:
        """Whether an image for `offered` serves this platform, by containerd's rules: both
        normalized, the same os and architecture; for arm an older variant serves a newer one
        (v7 runs v6 and v5); else the variant, when this one names it, equal or left open."""
        wanted, given = self.normalized(), offered.normalized()
        if (given.os, given.architecture) != (wanted.os, wanted.architecture):
            return False
        if wanted.architecture == "arm":
            return given.variant <= wanted.variant  # "v5" < "v6" < "v7" < "v8"
        return not wanted.variant or given.variant in ("", wanted.variant)


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
    return Platform(*parts)  # as given: recorded so; normalized only to match (matches)
