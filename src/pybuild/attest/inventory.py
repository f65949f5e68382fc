"""The typed facts an SBOM is written from: every file of the final image (with the layer and
instruction that put it there) and every package that can be read without running anything."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Package:
    """A package named by a package database or a binary's build information."""

    name: str
    version: str
    ecosystem: str  # apk, deb, pypi, npm or golang
    purl: str  # its package URL (github.com/package-url/purl-spec)
    found_in: str  # the image path it was read from (no leading slash)
    licenses: str = ""  # as the package states them
    supplier: str = ""  # maintainer or author, as stated
    description: str = ""


@dataclass(frozen=True)
class ImageFile:
    """A regular file of the final image (what a container sees)."""

    path: str  # no leading slash
    size: int
    mode: int
    sha256: str  # hex digests of its bytes
    sha1: str
    layer: int  # which layer put it there: an index into Inventory.layers, lowest first


@dataclass(frozen=True)
class LayerSource:
    """What made a layer: the instruction's text and, for a layer built here, its place."""

    created_by: str
    location: str = ""  # FILE:LINE of the instruction; "" for a base image's layer


@dataclass(frozen=True)
class Inventory:
    """Everything an SBOM lists for one image."""

    files: tuple[ImageFile, ...]
    packages: tuple[Package, ...]
    layers: tuple[LayerSource, ...]


@dataclass(frozen=True)
class DescribedImage:
    """The image an SBOM describes, known once its layers and manifest are written."""

    name: str  # its full name, such as docker.io/library/app:1.0 ("" when untagged)
    manifest_digest: str  # sha256:...
    platform: str  # os/arch[/variant]
    diff_ids: tuple[str, ...]  # each layer's, in the order of Inventory.layers
    created: str  # RFC 3339 UTC, from the image's timestamp policy (the epoch by default)
    tool_version: str  # pybuild's version
