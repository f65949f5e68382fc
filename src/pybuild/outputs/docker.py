"""`-o type=docker` (the default): one tar that is both a docker-archive (`manifest.json`, what
`docker load` reads) and an OCI image layout, like Docker 25's `docker save`; `--load` hands it
to `docker load`."""

from __future__ import annotations

from ..oci.model import Image, WrittenImage
from ..oci.reference import Reference
from .archive import write_archive
from .export import Exporting
from .spec import OutputSpec


def export(
    images: list[Image], refs: list[Reference], spec: OutputSpec, *, using: Exporting
) -> WrittenImage:
    return write_archive(images, refs, spec, using=using, docker=True)
