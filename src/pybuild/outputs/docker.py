"""`-o type=docker` (the default): one tar that is both a docker-archive (`manifest.json`, what
`docker load` reads) and an OCI image layout, like Docker 25's `docker save`; `--load` hands it
to `docker load`."""

from __future__ import annotations

from ..errors import UsageError
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
    of any version reads) names the image of `-o type=docker,platform=...`, else this
    machine's platform's, else the first; --load loads that one."""
    wanted = spec.platform or host_platform()
    found = [image for image in images if wanted.matches(image.config.platform)]
    if spec.platform is not None and not found:
        offered = ", ".join(str(image.config.platform) for image in images)
        raise UsageError(f"-o platform={spec.platform}: not built here (built: {offered})")
    chosen = found[0] if found else images[0]
    return write_index_archive(images, refs, spec, using=using, docker=chosen)
