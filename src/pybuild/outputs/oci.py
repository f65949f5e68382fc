"""`-o type=oci`: an OCI image layout as one tar (no manifest.json), layers gzip by default."""

from __future__ import annotations

from ..oci.model import Image, WrittenImage
from ..oci.reference import Reference
from .archive import write_archive
from .export import Exporting
from .spec import OutputSpec


def export(
    images: list[Image], refs: list[Reference], spec: OutputSpec, *, using: Exporting
) -> WrittenImage:
    return write_archive(images, refs, spec, using=using, docker=False)
