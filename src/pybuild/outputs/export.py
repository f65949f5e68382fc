"""One exporter per `-o type`, chosen by a table: each takes the image, its tags, the typed
OutputSpec and what every exporter may need (the blob store, the reporter, stdout, registry
access), and returns what it wrote."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

from ..events import QUIET, Reporter
from ..oci.blobstore import NO_CACHE, BlobStore
from ..oci.model import Image, WrittenImage
from ..oci.reference import Reference
from ..oci.registry import RegistryAccess
from .spec import OutputSpec

# type -> module of this package with an `export` function; imported only when used.
EXPORTERS = {
    "docker": "docker",
    "oci": "oci",
    "oci-dir": "ocidir",
    "bundle": "bundle",
    "registry": "registry",
}


@dataclass(frozen=True)
class Exporting:
    """What an exporter may use besides the image."""

    cache: BlobStore = NO_CACHE
    reporter: Reporter = QUIET
    stdout: BinaryIO | None = None  # where dest "-" goes
    registry: RegistryAccess = field(default_factory=RegistryAccess)
    # Layer blobs a --cache-from cache holds in the registry pushed to: digest -> (host, repo)
    mountable: dict[str, tuple[str, str]] = field(default_factory=dict)


class Exporter(Protocol):
    def __call__(
        self, images: list[Image], refs: list[Reference], spec: OutputSpec, *, using: Exporting
    ) -> WrittenImage: ...


def export(
    images: list[Image], refs: list[Reference], spec: OutputSpec, *, using: Exporting
) -> WrittenImage:
    """Write the image (one per platform: several are an image index) as `spec` says (its
    dest already resolved)."""
    module = importlib.import_module(f"{__package__}.{EXPORTERS[spec.type]}")
    exporter: Exporter = module.export
    return exporter(images, refs, spec, using=using)
