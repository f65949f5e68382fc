"""`-o type=oci-dir,dest=DIR`: an OCI image layout as a directory, built beside DIR and put in
its place; an earlier OCI layout there is replaced, anything else there is refused."""

from __future__ import annotations

from pathlib import Path

from ..oci.layout import DirLayout, write_images
from ..oci.model import Image, WrittenImage
from ..oci.reference import Reference
from .export import Exporting
from .files import directory_in_place
from .spec import OutputSpec


def export(
    images: list[Image], refs: list[Reference], spec: OutputSpec, *, using: Exporting
) -> WrittenImage:
    """One image, or several platforms' as an image index, as BuildKit writes it."""
    assert spec.dest is not None
    with directory_in_place(Path(spec.dest), "oci-dir") as building:
        return write_images(
            images,
            refs,
            DirLayout(building),
            compression=spec.compression,
            cache=using.cache,
            reporter=using.reporter,
            annotations=spec.annotations,
        )
