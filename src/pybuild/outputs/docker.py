"""`-o type=docker` (the default): one tar that is both a docker-archive (`manifest.json`, what
`docker load` reads) and an OCI image layout, like Docker 25's `docker save`; `--load` hands it
to `docker load`."""

from __future__ import annotations

from ..oci.model import Image, WrittenImage
from ..oci.platform import host_platform
from ..oci.reference import Reference
from .archive import write_archive, write_index_archive
from .export import Exporting
from .spec import OutputSpec


def export(
    image: Image, refs: list[Reference], spec: OutputSpec, *, using: Exporting
) -> WrittenImage:
    return write_archive(image, refs, spec, using=using, docker=True)


def export_index(
    images: list[Image], refs: list[Reference], spec: OutputSpec, *, using: Exporting
) -> WrittenImage:
    """Several platforms: the OCI part holds the whole index; manifest.json (what `docker load`
    of any version reads) names this machine's platform's image, else the first; --load loads
    that one."""
    host = host_platform()
    chosen = next((image for image in images if host.matches(image.config.platform)), images[0])
    return write_index_archive(images, refs, spec, using=using, docker=chosen)
