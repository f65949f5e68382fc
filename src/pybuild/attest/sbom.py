"""The inventory of an image, read from its layers as a container would see them: every regular
file with its digests and the layer that put it there, and the packages that package databases
and Go binaries name. Nothing is run and no scanner is needed; files are read only when an SBOM
is asked for (the SHA1 that SPDX 2.3 requires is computed then too)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from ..oci.attestation import Attestation, Subject
from ..oci.layer import BuiltLayer
from ..oci.model import Image
from ..oci.rootfs import RootFS
from .inventory import DescribedImage, ImageFile, Inventory, LayerSource, Package
from .packages import MAX_DATABASE, database_packages, go_packages, is_database

ELF_MAGIC = b"\x7fELF"


def readable(text: str) -> str:
    """Text that a JSON document can hold: a file name's undecodable bytes (surrogate
    escapes) and lone surrogates from a package's JSON become U+FFFD."""
    try:
        data = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        data = text.encode("utf-8", "surrogatepass")
    return data.decode("utf-8", "replace")


def _readable_package(package: Package) -> Package:
    fields = {name: readable(getattr(package, name)) for name in Package.__dataclass_fields__}
    return Package(**fields)


def layer_sources(image: Image, dockerfile: str) -> tuple[LayerSource, ...]:
    """What made each layer: the instruction's text, and for a layer built here its line in
    the Dockerfile, named as `dockerfile` (relative to the context: no path of the machine
    that built it goes into the image's SBOM)."""
    sources = []
    for layer in image.layers:
        where = layer.location if isinstance(layer, BuiltLayer) else None
        place = f"{dockerfile}:{where.line}" if where is not None else ""
        sources.append(LayerSource(readable(layer.created_by), readable(place)))
    return tuple(sources)


def inventory(image: Image, dockerfile: str = "Dockerfile") -> Inventory:
    """Every regular file of the image (the union of its layers) and the packages found."""
    files = RootFS()
    made_by: dict[str, int] = {}
    for number, layer in enumerate(image.layers):
        files.apply(layer.entries)
        for entry in layer.entries:
            if entry.kind not in ("whiteout", "opaque"):
                made_by[entry.path] = number
    found: list[ImageFile] = []
    packages: list[Package] = []
    for entry in files.files():
        if entry.kind != "file":
            continue
        sha256, sha1 = hashlib.sha256(), hashlib.sha1(usedforsecurity=False)
        head = b""
        for chunk in entry.chunks():
            sha256.update(chunk)
            sha1.update(chunk)
            if len(head) < len(ELF_MAGIC):
                head += chunk[: len(ELF_MAGIC)]
        made_in = made_by.get(entry.path, len(image.layers) - 1)
        digests = (sha256.hexdigest(), sha1.hexdigest())
        found.append(ImageFile(readable(entry.path), entry.size, entry.mode, *digests, made_in))
        if is_database(entry.path) and entry.size <= MAX_DATABASE:
            packages += database_packages(entry.path, entry.read())
        elif head.startswith(ELF_MAGIC):
            packages += go_packages(entry.path, entry.read_at, entry.size)
    listed = tuple(_readable_package(package) for package in packages)
    return Inventory(tuple(found), listed, layer_sources(image, dockerfile))


def described(subject: Subject, created: str, version: str) -> DescribedImage:
    """The image as the SBOM writers name it, once written."""
    name = subject.refs[0].full if subject.refs else ""
    return DescribedImage(
        name, subject.manifest.digest, str(subject.platform), subject.diff_ids, created, version
    )


Writer = Callable[[Inventory, DescribedImage], dict[str, Any]]


def sbom_attestation(image: Image, fmt: str, version: str, *, dockerfile: str) -> Attestation:
    """The SBOM statement of `image` in `fmt` (spdx or cyclonedx). The files are read when the
    image is written, after its layers (the writer calls the predicate)."""
    kind, write = _writer(fmt)
    held: dict[str, Inventory] = {}  # read once, however many times the predicate is asked

    def predicate(subject: Subject) -> Mapping[str, Any]:
        if "inventory" not in held:
            held["inventory"] = inventory(image, dockerfile)
        return write(held["inventory"], described(subject, image.config.created, version))

    return Attestation(kind, predicate)


def _writer(fmt: str) -> tuple[str, Writer]:
    """The predicate type and document writer of an SBOM format (loaded only when asked)."""
    if fmt == "cyclonedx":
        from . import cyclonedx

        return cyclonedx.PREDICATE_TYPE, cyclonedx.cyclonedx_document
    from . import spdx

    return spdx.PREDICATE_TYPE, spdx.spdx_document
