"""`-o type=registry,name=REF` and `--push`: the image is written as an OCI layout in a
temporary directory, its new layers going up to the first name while they are made, then pushed
to every name (oci/registry.py); a second repository on the same registry mounts the blobs the
first received instead of receiving them again."""

from __future__ import annotations

import tempfile
from pathlib import Path

from ..errors import UsageError
from ..oci.layout import write_images
from ..oci.model import Image, WrittenImage
from ..oci.reference import Reference, parse_reference
from ..oci.registry import PushingLayout, push_layout
from .export import Exporting
from .spec import OutputSpec


def export(
    images: list[Image], refs: list[Reference], spec: OutputSpec, *, using: Exporting
) -> WrittenImage:
    """Write the layout (one image, or an index of several platforms) in a temporary
    directory, streaming new layers to the first name, then push it to every name."""
    targets = [parse_reference(name) for name in spec.names] or refs
    if not targets:
        raise UsageError("pushing needs a name: -t REGISTRY/REPO:TAG or -o type=registry,name=...")
    with tempfile.TemporaryDirectory(prefix="pybuild-push-") as directory:
        layout, first = Path(directory), targets[0]
        streaming = PushingLayout(
            layout,
            using.registry.client(first.domain, pushing=True),
            first.path,
            reporter=using.reporter,
            mountable={
                digest: repository
                for digest, (host, repository) in using.mountable.items()
                if host == first.domain
            },
        )
        try:
            written = write_images(
                images,
                targets,
                streaming,
                compression=spec.compression,
                cache=using.cache,
                reporter=using.reporter,
                annotations=spec.annotations,
            )
        except BaseException:
            streaming.abort()
            raise
        digest = written.manifest_digest
        pushed: dict[str, str] = {}  # registry -> a repository there that has every blob now
        for ref in targets:
            source = pushed.get(ref.domain)
            digest = push_layout(
                layout,
                ref,
                using.registry.client(ref.domain, pushing=True),
                oci_media_types=spec.oci_media_types,
                reporter=using.reporter,
                mount_from=source if source != ref.path else None,
                sent=frozenset(streaming.sent) if ref == first else frozenset(),
            )
            pushed[ref.domain] = ref.path
            using.reporter.note(f"pushed {ref.domain}/{ref.path}:{ref.tag}@{digest}")
    return WrittenImage(written.image_id, digest, written.layers, written.config)
