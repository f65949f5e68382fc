"""One exporter per `-o type`, chosen by a table: each takes the image, its tags, the typed
OutputSpec and what every exporter may need (the blob store, the reporter, stdout, registry
access), and returns what it wrote."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

from ..errors import UsageError
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


class Exporter(Protocol):
    def __call__(
        self, image: Image, refs: list[Reference], spec: OutputSpec, *, using: Exporting
    ) -> WrittenImage: ...


def export(
    image: Image, refs: list[Reference], spec: OutputSpec, *, using: Exporting
) -> WrittenImage:
    """Write `image` as `spec` says (its dest already resolved)."""
    module = importlib.import_module(f"{__package__}.{EXPORTERS[spec.type]}")
    exporter: Exporter = module.export
    return exporter(image, refs, spec, using=using)


def export_index(
    images: list[Image], refs: list[Reference], spec: OutputSpec, *, using: Exporting
) -> WrittenImage:
    """Write the images of several platforms as one image index, where `spec.type` can hold
    one (docker, oci, oci-dir, registry); a bundle says so."""
    module = importlib.import_module(f"{__package__}.{EXPORTERS[spec.type]}")
    exporter = getattr(module, "export_index", None)
    if exporter is None:
        raise UsageError(
            f"-o type={spec.type} holds one platform's image: for several platforms use "
            "-o type=docker, oci or oci-dir, or --push (or build one --platform at a time)"
        )
    written: WrittenImage = exporter(images, refs, spec, using=using)
    return written
