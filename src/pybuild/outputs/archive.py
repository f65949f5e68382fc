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

from ..errors import UsageError
from ..filestat import file_stat
from ..oci.layout import TarLayout, documents, known_blobs, needs_index, write_images
from ..oci.model import Image, WrittenImage
from ..oci.platform import host_platform
from ..oci.reference import Reference
from .export import Exporting
from .files import file_in_place
from .load import load_archive
from .spec import OutputSpec, untagged_name


def write_archive(
    images: list[Image], refs: list[Reference], spec: OutputSpec, *, using: Exporting, docker: bool
) -> WrittenImage:
    """One image, or several platforms' as an image index, as one tar at `spec.dest` (or
    stdout, or only loaded), with manifest.json when `docker`."""
    named = docker_image(images, spec) if docker else None

    def write(out: BinaryIO) -> WrittenImage:
        return write_images(
            images,
            refs,
            TarLayout(out),
            compression=spec.compression,
            cache=using.cache,
            reporter=using.reporter,
            docker=named,
            annotations=spec.annotations,
        )

    if spec.dest is None or spec.to_stdout:
        with tempfile.TemporaryFile() as scratch:
            written = write(scratch)
            scratch.seek(0)
            if spec.load:
                load_archive(scratch, using.reporter)
                scratch.seek(0)
            if spec.to_stdout:
                assert using.stdout is not None, "dest - needs a stdout to write to"
                shutil.copyfileobj(scratch, using.stdout, 1 << 20)
                using.stdout.flush()
            if spec.named_by_id:  # its name was known only once it was written
                with file_in_place(Path(untagged_name(written.image_id))) as placed:
                    shutil.copyfileobj(scratch, placed.stream, 1 << 20)
        return written
    path = Path(spec.dest)
    written_before = (
        _unchanged(images[0], refs, spec, path=path, using=using, docker=docker)
        if not needs_index(images, spec.annotations)
        else None
    )
    if written_before is None:
        with file_in_place(path) as placed:
            written = write(placed.stream)
        written = replace(written, dest_identity=placed.identity)
        using.cache.remember_output(path, written.manifest_digest, placed.identity)
    else:
        written = written_before
    if spec.load:
        with open(path, "rb") as archive:
            load_archive(archive, using.reporter)
    return written


def docker_image(images: list[Image], spec: OutputSpec) -> Image:
    """The image manifest.json names, so `docker load` of any version takes it: the one of
    `-o type=docker,platform=...`, else this machine's platform's, else the first."""
    wanted = spec.platform or host_platform()
    found = [image for image in images if wanted.matches(image.config.platform)]
    if spec.platform is not None and not found:
        offered = ", ".join(str(image.config.platform) for image in images)
        raise UsageError(f"-o platform={spec.platform}: not built here (built: {offered})")
    return found[0] if found else images[0]


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
    docs = documents(
        image,
        refs,
        layers,
        compression=spec.compression,
        docker=docker,
        annotations=spec.annotations,
    )
    if not using.cache.output_holds(path, docs.manifest_digest):
        return None
    return replace(docs.written(layers, up_to_date=True), dest_identity=file_stat(path))
