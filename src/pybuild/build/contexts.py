"""Named build contexts (`--build-context NAME=VALUE`), as buildx reads them.

NAME is a stage name or an image reference: FROM and `COPY --from` that name it use the
context instead (a stage of that name is replaced, not built). References are compared in
their familiar form without `:latest`, so `alpine`, `alpine:latest` and
`docker.io/library/alpine` are one name. VALUE is:

- `docker-image://REF`: the image REF, pulled from its registry, instead;
- `oci-layout://DIR[:TAG|@DIGEST]`: an image in an OCI layout directory, chosen by tag or
  manifest digest (else its first);
- `docker-archive:PATH`, `oci-archive:PATH`, `oci-layout:DIR`: pybuild's archive forms;
- a local directory: files for `COPY --from=NAME` (not a base image).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

from ..errors import UsageError
from ..oci.reference import parse_reference

Kind = Literal["directory", "docker-image", "docker-archive", "oci-archive", "oci-layout"]
ARCHIVE_KINDS: tuple[Kind, ...] = ("docker-archive", "oci-archive", "oci-layout")


@dataclass(frozen=True)
class NamedContext:
    """What a `--build-context` NAME stands for."""

    name: str
    kind: Kind
    location: str  # a path, or an image reference for docker-image
    tag: str | None = None  # oci-layout://DIR:TAG
    digest: str | None = None  # oci-layout://DIR@sha256:...

    @property
    def local_path(self) -> str | None:
        """The file or directory a build reads (None for an image from a registry)."""
        return None if self.kind == "docker-image" else self.location


def context_key(reference: str) -> str:
    """The name FROM, --from and --build-context are matched by: a stage name as it is, an
    image reference in its familiar form without `:latest` (a digest kept)."""
    name, at, digest = reference.partition("@")
    try:
        familiar = parse_reference(name).familiar
    except UsageError:
        return reference.lower()
    return familiar.removesuffix(":latest") + (at + digest if at else "")


def parse_named_context(name: str, value: str) -> NamedContext:
    """One `--build-context NAME=VALUE`."""
    if not name or not value:
        raise UsageError(f"--build-context {name}={value}: expected NAME=VALUE")
    scheme, separator, rest = value.partition("://")
    if separator and scheme == "docker-image":
        if not rest:
            raise UsageError(
                f"--build-context {name}={value}: name the image after docker-image://"
            )
        return NamedContext(name, "docker-image", rest)
    if separator and scheme == "oci-layout":
        path, at, digest = rest.partition("@")
        tag = None
        if not at and ":" in os.path.basename(path):
            path, _, tag = path.rpartition(":")
        return NamedContext(name, "oci-layout", path, tag, digest or None)
    if separator and scheme in ARCHIVE_KINDS:
        return NamedContext(name, scheme, rest)
    kind, colon, path = value.partition(":")
    if colon and kind in ARCHIVE_KINDS and path:
        return NamedContext(name, kind, path)
    if separator:
        raise UsageError(
            f"--build-context {name}={value}: {scheme}:// is not supported (docker-image://, "
            "oci-layout://, docker-archive:, oci-archive:, oci-layout: or a local directory)"
        )
    if not os.path.isdir(value):
        hint = (
            f" (an image archive? say {name}=docker-archive:{value})"
            if os.path.isfile(value)
            else ""
        )
        raise UsageError(f"--build-context {name}={value}: no such directory{hint}")
    return NamedContext(name, "directory", value)
