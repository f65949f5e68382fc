"""`-o type=oci-dir,dest=DIR`: an OCI image layout as a directory, built beside DIR and put in
its place; an earlier OCI layout there is replaced, anything else there is refused."""

from __future__ import annotations

from pathlib import Path

from ..oci.layout import DirLayout, write_image, write_index
from ..oci.model import Image, WrittenImage
from ..oci.reference import Reference
from .export import Exporting
from .files import directory_in_place
from .spec import OutputSpec


def export(
    image: Image, refs: list[Reference], spec: OutputSpec, *, using: Exporting
) -> WrittenImage:
    assert spec.dest is not None
    with directory_in_place(Path(spec.dest), "oci-dir") as building:
        return write_image(
            image,
            refs,
            DirLayout(building),
            compression=spec.compression,
            docker=False,
            cache=using.cache,
            reporter=using.reporter,
        )


def export_index(
    images: list[Image], refs: list[Reference], spec: OutputSpec, *, using: Exporting
) -> WrittenImage:
    """Several platforms in one layout: an image index, as BuildKit writes it."""
    assert spec.dest is not None
    with directory_in_place(Path(spec.dest), "oci-dir") as building:
        return write_index(
            images,
            refs,
            DirLayout(building),
            compression=spec.compression,
            cache=using.cache,
            reporter=using.reporter,
        )
