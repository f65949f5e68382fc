"""Image references given with -t: validated and normalised the way Docker does it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import UsageError

COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
DOMAIN = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?|\[[0-9a-fA-F:]+\](?::[0-9]+)?)"
REFERENCE = re.compile(
    rf"^(?:(?P<domain>{DOMAIN})/)?(?P<path>{COMPONENT}(?:/{COMPONENT})*)(?::(?P<tag>[\w][\w.-]{{0,127}}))?\Z",
    re.ASCII,  # as Go's \w: a tag is ASCII
)
DEFAULT_DOMAIN = "docker.io"


@dataclass(frozen=True)
class Reference:
    """A tagged name: `familiar` is what `docker images` shows, `full` what containerd stores."""

    domain: str
    path: str
    tag: str

    @property
    def familiar(self) -> str:
        if self.domain == DEFAULT_DOMAIN:
            path = self.path.removeprefix("library/")
            return f"{path}:{self.tag}"
        return f"{self.domain}/{self.path}:{self.tag}"

    @property
    def full(self) -> str:
        return f"{self.domain}/{self.path}:{self.tag}"


def parse_reference(text: str) -> Reference:
    """Parse `name[:tag]` (tag defaults to latest); a digest is not a tag and is refused."""
    match = REFERENCE.match(text)
    if not match or len(text) > 255:
        raise UsageError(
            f"invalid tag {text!r}: expected NAME[:TAG] with a lowercase name "
            "(letters, digits, '.', '_', '-', '/'), e.g. hello:1.0"
        )
    domain, path = match.group("domain"), match.group("path")
    # As in Docker: the first component is a registry only if it looks like a host name.
    if domain and not ("." in domain or ":" in domain or domain == "localhost"):
        if domain != domain.lower():
            raise UsageError(f"invalid tag {text!r}: repository names must be lowercase")
        path, domain = f"{domain}/{path}", None
    if domain is None:
        domain = DEFAULT_DOMAIN
        if "/" not in path:
            path = f"library/{path}"
    return Reference(domain, path, match.group("tag") or "latest")
