"""Where an image goes, buildx-style: `-o type=docker|oci|oci-dir,dest=...,compression=...,
compression-level=N` (`-o PATH` and `-o -` are short for type=docker), and `--load`.

Files are written beside their destination and renamed into place, and directories are built
beside theirs; a failed or interrupted build leaves neither partial output nor a damaged
earlier one. Stdout and `--load` go through a temporary file, because blob names need digests
before their bytes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..oci.compression import Compression
from ..errors import UsageError
from ..oci.model import ImageSpec
from ..oci.reference import Reference
from ..oci.blobstore import LayerCache
from ..progress import Progress
from .write import NO_CACHE, SILENT, WrittenImage, cached_layers, documents, write_image
from ..oci.layout import DirStore, TarStore, current_umask, directory_in_place

STDOUT = "-"
TYPES = ("docker", "oci", "oci-dir", "bundle", "registry")
DEFAULT_COMPRESSION = {"docker": "uncompressed", "oci": "gzip", "oci-dir": "gzip",
                       "bundle": "uncompressed", "registry": "gzip"}
DIRECTORY_TYPES = ("oci-dir", "bundle")


@dataclass(frozen=True)
class OutputSpec:
    type: str = "docker"
    dest: str | None = None  # None: a name made from the tag (or nothing, with --load)
    compression: Compression = Compression()
    load: bool = False
    names: tuple[str, ...] = ()  # type=registry: where to push (else the -t tags)
    oci_media_types: bool = True  # type=registry: False pushes Docker schema 2 media types

    @property
    def docker_manifest(self) -> bool:
        return self.type == "docker"


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
    if kind in DIRECTORY_TYPES and (dest is None or dest == STDOUT):
        raise UsageError(f"-o type={kind} needs dest=DIRECTORY")
    level = fields.pop("compression-level", None)
    if level is not None and not level.isdigit():
        raise UsageError(f"compression-level={level}: expected a number")
    compression = Compression(fields.pop("compression", DEFAULT_COMPRESSION[kind]),
                              int(level) if level is not None else None)
    names = tuple(filter(None, fields.pop("name", "").split(";")))
    oci_media_types = fields.pop("oci-mediatypes", "true").lower() != "false"
    if fields:
        raise UsageError(f"-o: unknown option(s) {', '.join(sorted(fields))}")
    if load and kind != "docker":
        raise UsageError(f"--load needs type=docker output (docker load reads manifest.json), not type={kind}")
    return OutputSpec(kind, dest, compression, load, names, oci_media_types)


def emit(spec: ImageSpec, refs: list[Reference], output: OutputSpec, dest: str | None,
         stdout: BinaryIO, cache: LayerCache = NO_CACHE, progress: Progress = SILENT,
         creds: str | None = None, insecure: bool = False) -> WrittenImage:
    """Write the image to `dest` (a path, "-", or None for --load only), then load it if asked.
    A file that the cache knows still holds exactly this image is left as it is."""
    if output.type == "oci-dir":
        assert dest is not None
        return _write_directory(spec, refs, output, Path(dest), cache, progress)
    if output.type == "registry":
        return _push(spec, refs, output, cache, progress, creds, insecure)
    if output.type == "bundle":
        from .bundle import write_bundle

        assert dest is not None
        return write_bundle(spec, refs, Path(dest))
    if dest is None or dest == STDOUT:
        with tempfile.TemporaryFile() as scratch:
            written = write_image(spec, refs, TarStore(scratch), output.compression,
                                  output.docker_manifest, cache, progress)
            scratch.seek(0)
            if output.load:
                _load(scratch)
                scratch.seek(0)
            if dest == STDOUT:
                shutil.copyfileobj(scratch, stdout, 1 << 20)
                stdout.flush()
        return written
    written = _unchanged(spec, refs, output, Path(dest), cache)
    if written is None:
        written = _write_file(spec, refs, output, Path(dest), cache, progress)
        cache.remember_output(Path(dest), written.manifest_digest)
    if output.load:
        with open(dest, "rb") as archive:
            _load(archive)
    return written


def _push(spec: ImageSpec, refs: list[Reference], output: OutputSpec, cache: LayerCache,
          progress: Progress, creds: str | None, insecure: bool) -> WrittenImage:
    """Write the image as an OCI layout in a temporary directory, then push it to every name."""
    from ..oci.reference import parse_reference
    from ..oci.registry import RegistryClient, credentials, push_layout

    targets = [parse_reference(name) for name in output.names] or refs
    if not targets:
        raise UsageError("pushing needs a name: -t REGISTRY/REPO:TAG or -o type=registry,name=...")
    with tempfile.TemporaryDirectory(prefix="pybuild-push-") as directory:
        layout = Path(directory)
        written = write_image(spec, targets, DirStore(layout), output.compression, False, cache, progress)
        digest = written.manifest_digest
        pushed: dict[str, str] = {}  # registry -> a repository there that has every blob now
        for ref in targets:
            client = RegistryClient(ref.domain, credentials(ref.domain, creds), insecure)
            source = pushed.get(ref.domain)
            digest = push_layout(layout, ref, client, output.oci_media_types,
                                 lambda line: print(line, file=sys.stderr),
                                 source if source != ref.path else None)
            pushed[ref.domain] = ref.path
            print(f"pushed {ref.domain}/{ref.path}:{ref.tag}@{digest}", file=sys.stderr)
    return WrittenImage(written.image_id, digest, written.layers, written.config)


def _unchanged(spec: ImageSpec, refs: list[Reference], output: OutputSpec, path: Path,
               cache: LayerCache) -> WrittenImage | None:
    """The image, when every layer is cached and `path` still holds exactly it."""
    layers = cached_layers(spec, output.compression, cache)
    if layers is None or not path.is_file():
        return None
    docs = documents(spec, refs, layers, output.compression, output.docker_manifest)
    if not cache.output_holds(path, docs.manifest_digest):
        return None
    return WrittenImage(docs.image_id, docs.manifest_digest, tuple(layers), docs.config, up_to_date=True)


def _write_file(spec: ImageSpec, refs: list[Reference], output: OutputSpec, path: Path,
                cache: LayerCache, progress: Progress) -> WrittenImage:
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise UsageError(f"output directory does not exist: {directory}")
    handle = tempfile.NamedTemporaryFile(dir=directory, prefix=f".{path.name}.", suffix=".partial",
                                         delete=False)
    try:
        with handle:
            written = write_image(spec, refs, TarStore(handle), output.compression,
                                  output.docker_manifest, cache, progress)
        os.chmod(handle.name, 0o644 & ~current_umask())
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return written


def _write_directory(spec: ImageSpec, refs: list[Reference], output: OutputSpec,
                     path: Path, cache: LayerCache, progress: Progress) -> WrittenImage:
    """Build the layout beside `path`, then put it in place; an existing OCI layout there is
    replaced, anything else there is left alone (an error)."""
    with directory_in_place(path, "oci-layout", "an OCI layout") as building:
        return write_image(spec, refs, DirStore(building), output.compression, False, cache, progress)


def _load(archive: BinaryIO) -> None:
    """`docker load` (honouring DOCKER_HOST), or `podman load` where only podman is installed."""
    tool = shutil.which("docker") and "docker" or shutil.which("podman") and "podman"
    if not tool:
        raise UsageError("--load needs docker or podman on PATH")
    result = subprocess.run([tool, "load"], stdin=archive, capture_output=True)
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip().splitlines()
        raise UsageError(f"{tool} load failed: {message[-1] if message else result.returncode}")
    for line in result.stdout.decode(errors="replace").splitlines():
        print(line, file=sys.stderr)
