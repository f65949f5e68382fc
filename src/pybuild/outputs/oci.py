"""`-o type=oci`: an OCI image layout as one tar (no manifest.json), layers gzip by default."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

from ..oci.layout import TarLayout, write_index
from ..oci.model import Image, WrittenImage
from ..oci.reference import Reference
from .archive import write_archive
from .export import Exporting
from .files import file_in_place
from .spec import OutputSpec


def export(
    image: Image, refs: list[Reference], spec: OutputSpec, *, using: Exporting
) -> WrittenImage:
    return write_archive(image, refs, spec, using=using, docker=False)


def export_index(
    images: list[Image], refs: list[Reference], spec: OutputSpec, *, using: Exporting
) -> WrittenImage:
    """Several platforms in one OCI archive: an image index, as BuildKit writes it."""

    def write(out: BinaryIO) -> WrittenImage:
        return write_index(
            images,
            refs,
            TarLayout(out),
            compression=spec.compression,
            cache=using.cache,
            reporter=using.reporter,
        )

    if spec.to_stdout:
        assert using.stdout is not None, "dest - needs a stdout to write to"
        with tempfile.TemporaryFile() as scratch:
            written = write(scratch)
            scratch.seek(0)
            shutil.copyfileobj(scratch, using.stdout, 1 << 20)
            using.stdout.flush()
        return written
    assert spec.dest is not None
    with file_in_place(Path(spec.dest)) as placed:
        written = write(placed.stream)
    return replace(written, dest_identity=placed.identity)
