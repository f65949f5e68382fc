"""`-o type=oci`: an OCI image layout as one tar (no manifest.json), layers gzip by default."""

from __future__ import annotations

from ..oci.model import Image, WrittenImage
from ..oci.reference import Reference
from .archive import write_archive, write_index_archive
from .export import Exporting
from .spec import OutputSpec


def export(
    image: Image, refs: list[Reference], spec: OutputSpec, *, using: Exporting
) -> WrittenImage:
    return write_archive(image, refs, spec, using=using, docker=False)


def export_index(
    images: list[Image], refs: list[Reference], spec: OutputSpec, *, using: Exporting
) -> WrittenImage:
    """Several platforms in one OCI archive: an image index, as BuildKit writes it."""
    return write_index_archive(images, refs, spec, using=using, docker=None)
