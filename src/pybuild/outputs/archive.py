"""What the docker and oci types share: one image tar, written to a file (atomically), to
stdout, or only loaded. Stdout and loading go through a temporary file, because blob names
need digests before their bytes. A file that the blob store knows still holds exactly this
image is left as it is."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

from ..filestat import file_stat
from ..oci.layout import TarLayout, documents, known_blobs, write_image, write_index
from ..oci.model import Image, WrittenImage
from ..oci.reference import Reference
from .export import Exporting
from .files import file_in_place
from .load import load_archive
from .spec import OutputSpec


def write_archive(
    image: Image, refs: list[Reference], spec: OutputSpec, *, using: Exporting, docker: bool
) -> WrittenImage:
    """The image as one tar at `spec.dest` (or stdout), with manifest.json when `docker`."""
    if spec.dest is None or spec.to_stdout:
        with tempfile.TemporaryFile() as scratch:
            written = write_image(
                image,
                refs,
                TarLayout(scratch),
                compression=spec.compression,
                docker=docker,
                cache=using.cache,
                reporter=using.reporter,
            )
            scratch.seek(0)
            if spec.load:
                load_archive(scratch, using.reporter)
                scratch.seek(0)
            if spec.to_stdout:
                assert using.stdout is not None, "dest - needs a stdout to write to"
                shutil.copyfileobj(scratch, using.stdout, 1 << 20)
                using.stdout.flush()
        return written
    path = Path(spec.dest)
    written_before = _unchanged(image, refs, spec, path=path, using=using, docker=docker)
    if written_before is None:
        with file_in_place(path) as placed:
            written = write_image(
                image,
                refs,
                TarLayout(placed.stream),
                compression=spec.compression,
                docker=docker,
                cache=using.cache,
                reporter=using.reporter,
            )
        written = replace(written, dest_identity=placed.identity)
        using.cache.remember_output(path, written.manifest_digest, placed.identity)
    else:
        written = written_before
    if spec.load:
        with open(path, "rb") as archive:
            load_archive(archive, using.reporter)
    return written


def _unchanged(
    image: Image,
    refs: list[Reference],
    spec: OutputSpec,
    *,
    path: Path,
    using: Exporting,
    docker: bool,
) -> WrittenImage | None:
    """The image, when every layer's blob is known and `path` still holds exactly it."""
    layers = known_blobs(image, spec.compression, using.cache)
    if layers is None or not path.is_file():
        return None
    docs = documents(image, refs, layers, compression=spec.compression, docker=docker)
    if not using.cache.output_holds(path, docs.manifest_digest):
        return None
    return replace(docs.written(layers, up_to_date=True), dest_identity=file_stat(path))


def write_index_archive(
    images: list[Image],
    refs: list[Reference],
    spec: OutputSpec,
    *,
    using: Exporting,
    docker: Image | None,
) -> WrittenImage:
    """Several platforms as one tar (an image index) at `spec.dest`, or stdout, or loaded;
    with `docker`, manifest.json names that platform's image for `docker load`."""

    def write(out: BinaryIO) -> WrittenImage:
        return write_index(
            images,
            refs,
            TarLayout(out),
            compression=spec.compression,
            cache=using.cache,
            reporter=using.reporter,
            docker=docker,
        )

    if spec.dest is None or spec.to_stdout or spec.load:
        with tempfile.TemporaryFile() as scratch:
            written = write(scratch)
            if spec.load:
                scratch.seek(0)
                load_archive(scratch, using.reporter)
            if spec.to_stdout:
                assert using.stdout is not None, "dest - needs a stdout to write to"
                scratch.seek(0)
                shutil.copyfileobj(scratch, using.stdout, 1 << 20)
                using.stdout.flush()
            if spec.dest is None or spec.to_stdout:
                return written
    with file_in_place(Path(spec.dest)) as placed:
        written = write(placed.stream)
    return replace(written, dest_identity=placed.identity)
