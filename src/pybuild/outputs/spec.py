"""`-o`, parsed once: buildx-style `type=docker|oci|oci-dir|bundle|registry,dest=...,
compression=...,compression-level=N,name=...,oci-mediatypes=...`; `-o PATH` and `-o -` are
short for type=docker, `--push` is type=registry to every tag, `--load` loads a docker output."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from ..errors import UsageError
from ..oci.compression import Compression
from ..oci.model import ANNOTATION_PLACES, Annotation
from ..oci.platform import Platform, parse_platform
from ..oci.reference import Reference

STDOUT = "-"
OutputType = Literal["docker", "oci", "oci-dir", "bundle", "registry"]
TYPES: tuple[OutputType, ...] = ("docker", "oci", "oci-dir", "bundle", "registry")
DEFAULT_COMPRESSION = {
    "docker": "uncompressed",
    "oci": "gzip",
    "oci-dir": "gzip",
    "bundle": "uncompressed",
    "registry": "gzip",
}
DIRECTORY_TYPES = ("oci-dir", "bundle")


@dataclass(frozen=True)
class OutputSpec:
    """Where and how the image goes."""

    type: OutputType = "docker"
    dest: str | None = None  # a path or "-"; None: a name made from the tag (or none, with load)
    compression: Compression = Compression()
    load: bool = False  # also (or only) `docker load` / `podman load` it
    names: tuple[str, ...] = ()  # type=registry: where to push (else the -t tags)
    oci_media_types: bool = True  # type=registry: False pushes Docker schema 2 media types
    # type=docker of several platforms: whose image manifest.json names (default: this machine's)
    platform: Platform | None = None
    annotations: tuple[Annotation, ...] = ()  # --annotation and -o annotation.KEY=VALUE
    named_by_id: bool = False  # no dest and no tag: the archive is named by its image ID

    @property
    def to_stdout(self) -> bool:
        return self.dest == STDOUT

    def with_default_dest(self, refs: list[Reference]) -> OutputSpec:
        """A docker or oci archive with no dest (and nothing to load) goes to `NAME-TAG.tar`
        from the first tag, in the current directory; without a tag, to `IMAGE_ID.tar`."""
        if self.dest is not None or self.load or self.type == "registry":
            return self
        if not refs:  # untagged, as `docker build` without -t: named by its image ID
            return replace(self, named_by_id=True)
        return replace(self, dest=refs[0].familiar.replace("/", "_").replace(":", "-") + ".tar")


def untagged_name(image_id: str) -> str:
    """An untagged image's archive: `IMAGE_ID.tar`, the 12 digits `docker images` shows."""
    return image_id.removeprefix("sha256:")[:12] + ".tar"


def parse_output(text: str | None, load: bool = False, push: bool = False) -> OutputSpec:
    """`PATH`, `-`, or `type=...,dest=...,compression=...,compression-level=N`; `--push` is
    `type=registry` to every tag."""
    if push:
        if text is not None:
            raise UsageError("--push writes to the registry of each -t tag; use it without -o")
        text = "type=registry"
    if text is None or "=" not in text:
        return OutputSpec("docker", text, Compression(), load)
    fields: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep:
            raise UsageError(f"-o {text}: expected key=value pairs, e.g. type=oci,dest=image.tar")
        fields[key.strip()] = value.strip()
    kind = fields.pop("type", "docker")
    if kind not in TYPES:
        raise UsageError(f"-o type={kind}: expected one of {', '.join(TYPES)}")
    dest = fields.pop("dest", None)
    if dest == "":
        raise UsageError(f"-o {text}: dest= is empty; give a path (or - for stdout)")
    if kind in DIRECTORY_TYPES and (dest is None or dest == STDOUT):
        raise UsageError(f"-o type={kind} needs dest=DIRECTORY")
    level = fields.pop("compression-level", None)
    if level is not None and not level.isdigit():
        raise UsageError(f"compression-level={level}: expected a number")
    compression = Compression(
        fields.pop("compression", DEFAULT_COMPRESSION[kind]),
        int(level) if level is not None else None,
    )
    names = tuple(filter(None, fields.pop("name", "").split(";")))
    oci_media_types = fields.pop("oci-mediatypes", "true").lower() != "false"
    annotations = tuple(
        item
        for key in sorted(key for key in fields if key.startswith("annotation"))
        for item in parse_annotation(_annotation_option(key, fields.pop(key)))
    )
    platform = fields.pop("platform", None)
    if platform is not None and kind != "docker":
        raise UsageError("-o platform= chooses the image docker load takes: type=docker only")
    if fields:
        raise UsageError(f"-o: unknown option(s) {', '.join(sorted(fields))}")
    if load and kind != "docker":
        raise UsageError(
            f"--load needs type=docker output (docker load reads manifest.json), not type={kind}"
        )
    chosen = parse_platform(platform) if platform is not None else None
    return OutputSpec(kind, dest, compression, load, names, oci_media_types, chosen, annotations)


def _annotation_option(key: str, value: str) -> str:
    """`-o annotation-index.K=V` (buildx's spelling) as `--annotation index:K=V`."""
    kind, dot, name = key.partition(".")
    place = kind.removeprefix("annotation").removeprefix("-") or "manifest"
    if (
        kind not in ("annotation", f"annotation-{place}")
        or not dot
        or not name
        or (place.split("[", 1)[0] not in ANNOTATION_PLACES)
    ):
        raise UsageError(
            f"-o {key}={value}: expected annotation[-PLACE].KEY=VALUE, PLACE one of "
            f"{', '.join(ANNOTATION_PLACES)}"
        )
    return f"{place}:{name}={value}"


def parse_annotation(text: str) -> tuple[Annotation, ...]:
    """`[PLACE[,PLACE...][PLATFORM]:]KEY=VALUE`, as buildx's `--annotation` takes it: PLACE is
    manifest (the default), index, manifest-descriptor or index-descriptor, and a manifest's
    annotation may be limited to one platform (`manifest[linux/arm64]:KEY=VALUE`)."""
    name, sep, value = text.partition("=")
    places_text, colon, key = name.partition(":")
    # A prefix only when it names places (buildx's rule): `com.example:key=v` is a key.
    if not colon or not all(
        place.split("[", 1)[0] in ANNOTATION_PLACES for place in places_text.split(",")
    ):
        places_text, colon, key = "", "", name
    if not sep or not key or any(char.isspace() for char in key):
        raise UsageError(f"--annotation {text!r}: expected [PLACE:]KEY=VALUE, KEY without spaces")
    platform = None
    if places_text.endswith("]") and "[" in places_text:
        places_text, _, platform_text = places_text[:-1].partition("[")
        platform = parse_platform(platform_text)
    places = places_text.split(",") if colon else ["manifest"]
    for place in places:
        if place not in ANNOTATION_PLACES:
            raise UsageError(
                f"--annotation {text!r}: {place!r} is not one of {', '.join(ANNOTATION_PLACES)}"
            )
        if platform is not None and not place.startswith("manifest"):
            raise UsageError(f"--annotation {text!r}: only a manifest's may name a platform")
    return tuple(Annotation(place, key, value, platform) for place in places)
