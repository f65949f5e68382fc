"""Library entry points, used by the CLI and the tests: parse a Dockerfile, build an image."""

from __future__ import annotations

import json
import os
from functools import partial
import sys
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

from .oci.blobstore import LayerCache, default_cache_dir
from . import recording
from .dockerfile.checks import CheckFailed, active_warnings
from .build.context import BuildContext
from .dockerfile.dump import dump
from .errors import DockerfileSyntaxError, Location, PybuildError, UsageError
from .build.evaluator import evaluate
from .build.ignore import load_ignore_rules
from .oci.model import ImageSpec
from .dockerfile.instructions import Dockerfile
from .oci.layer import DiscardSink
from .dockerfile.lower import lower
from .dockerfile.parser import normalise_text, parse_dockerfile
from .progress import make_progress
from .oci.platform import Platform, host_platform, parse_platform
from .oci.reference import Reference, parse_reference
from .build.timestamps import Timestamps
from .outputs.write import WrittenImage
from .outputs.spec import emit, parse_output


@dataclass(frozen=True)
class BuildOptions:
    """What `pybuild build` was asked to do."""

    context: Path
    dockerfile: Path | None = None  # default: CONTEXT/Dockerfile
    tags: tuple[str, ...] = ()
    output: str | None = None  # a path, "-", or type=...,dest=... (writers/output.py)
    load: bool = False  # also (or only) load the image into docker or podman
    push: bool = False  # push to the registry of every tag (-o type=registry)
    creds: str | None = None  # USER:PASSWORD for registries
    insecure: bool = False  # plain HTTP to a registry that is not on loopback
    build_contexts: tuple[str, ...] = ()  # NAME=docker-archive:PATH|oci-archive:PATH|oci-layout:DIR
    platform: str | None = None
    build_args: tuple[str, ...] = ()  # K=V, or K to take K from the environment
    labels: tuple[str, ...] = ()  # K=V, added to the image's labels
    target: str | None = None
    check: str | None = None
    timestamp: str | None = None  # "now", or seconds like SOURCE_DATE_EPOCH
    cache_dir: Path | None = field(default_factory=default_cache_dir)  # None: no layer cache
    progress: str = "quiet"  # auto, plain, tty, quiet or json (progress.py)  # "error", or like the directive: "skip=Rule,...;error=true"
    source_date_epoch: str | None = field(default_factory=lambda: os.environ.get("SOURCE_DATE_EPOCH"))


@dataclass(frozen=True)
class BuildResult:
    image_id: str
    output: str | None  # where the image was written: a path, "-", or None (only loaded)
    spec: ImageSpec
    written: WrittenImage
    warnings: tuple[str, ...] = ()


def key_values(items: tuple[str, ...], flag: str, from_environment: bool) -> dict[str, str]:
    """`K=V` items as a dict; a bare `K` takes K from the environment (skipped when unset),
    as `docker build --build-arg K` does."""
    values: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not key:
            raise UsageError(f"{flag} {item!r}: expected KEY=VALUE")
        if sep:
            values[key] = value
        elif from_environment:
            if key in os.environ:
                values[key] = os.environ[key]
        else:
            raise UsageError(f"{flag} {item!r}: expected KEY=VALUE")
    return values


def read_dockerfile(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"Dockerfile not found: {path}") from None
    except OSError as error:
        raise UsageError(f"cannot read Dockerfile {path}: {error.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DockerfileSyntaxError(
            f"the Dockerfile is not UTF-8 text (byte {error.start})", Location(str(path), 1, 1)
        ) from None


def parse(text: str, file: str = "Dockerfile") -> Dockerfile:
    """Dockerfile text -> typed instructions (raises DockerfileSyntaxError with a position)."""
    return lower(parse_dockerfile(text, file))


def describe(dockerfile: Path, fmt: str) -> str:
    """The parsed Dockerfile as text (one instruction a line, with its position), JSON, or
    BuildKit's AST dump."""
    text = read_dockerfile(dockerfile)
    parsed = parse_dockerfile(text, str(dockerfile))
    if fmt == "buildkit":
        return dump(parsed)
    instructions = lower(parsed).instructions
    if fmt == "json":
        items = [
            {"line": i.location.line, "column": i.location.column, "instruction": i.keyword.upper(),
             "flags": [flag.raw for flag in i.flags], "text": i.text}
            for i in instructions
        ]
        return json.dumps({"file": str(dockerfile), "instructions": items}, indent=2) + "\n"
    return "".join(f"{i.location.line}:{i.location.column}\t{i.text}\n" for i in instructions)


def default_output(refs: list[Reference]) -> str:
    """`hello:1.0` -> `hello-1.0.tar`, in the current directory."""
    if not refs:
        raise UsageError("say where to write the image: -o PATH (or - for stdout), or -t NAME:TAG")
    name = refs[0].familiar.replace("/", "_").replace(":", "-")
    return f"{name}.tar"


def build(options: BuildOptions, stdout: BinaryIO | None = None,
          trace: list | None = None) -> BuildResult:
    """Build the image and write the archive; nothing is left behind when anything fails.
    With `trace`, every instruction's effect is appended to it (`pybuild explain`)."""
    context_dir = Path(options.context)
    if not context_dir.is_dir():
        raise UsageError(f"build context is not a directory: {context_dir}")
    dockerfile = options.dockerfile or default_dockerfile(context_dir)
    build_args = key_values(options.build_args, "--build-arg", from_environment=True)
    labels = key_values(options.labels, "--label", from_environment=False)
    refs = [parse_reference(tag) for tag in options.tags]
    platform: Platform = parse_platform(options.platform) if options.platform else host_platform()
    timestamps = Timestamps.from_environment(options.source_date_epoch, options.timestamp)
    output = parse_output(options.output, options.load, options.push)
    dest = (output.dest if output.dest is not None or output.load or output.type == "registry"
            else default_output(refs))

    parsed = parse(read_dockerfile(dockerfile), str(dockerfile))
    lint, fatal = active_warnings(parsed, options.check)
    if fatal and lint:
        first, others = lint[0], lint[1:]
        more = f" (and {len(others)} more: {', '.join(w.rule for w in others)})" if others else ""
        raise CheckFailed(f"{first.rule}: {first.message}{more}; build checks are errors here "
                          "(--check=error or # check=error=true)", first.location)
    context = BuildContext(context_dir, load_ignore_rules(context_dir, dockerfile))
    # Decompressed ADD archives live here until their layers are written, then go.
    with tempfile.TemporaryDirectory(prefix="pybuild-") as scratch:
        spec = evaluate(parsed, context, platform, timestamps, build_args, options.target,
                        labels, Path(scratch), trace,
                        key_values(options.build_contexts, "--build-context", from_environment=False),
                        partial(_registry_client, creds=options.creds, insecure=options.insecure))
        written = emit(spec, refs, output, dest, stdout or sys.stdout.buffer,
                       LayerCache(options.cache_dir), make_progress(options.progress),
                       options.creds, options.insecure)
    warnings = tuple(str(warning) for warning in lint) + spec.warnings
    return BuildResult(written.image_id, dest, spec, written, warnings)


def explain(options: BuildOptions) -> tuple[dict, BuildResult]:
    """Build as `build` does, recording what each instruction produced; the archive is written
    only when `options.output` asks for one."""
    steps: list = []
    wanted = options.output is not None or options.load
    run = options if wanted else replace(options, output="-", tags=options.tags or ("explain:latest",))
    result = build(run, stdout=None if wanted else DiscardSink(), trace=steps)
    output = parse_output(run.output, run.load)
    from .reports.explain import explanation  # the teaching module loads only when asked for
    from .oci.model import MEDIA_OCI_LAYER

    dockerfile = options.dockerfile or default_dockerfile(Path(options.context))
    source = normalise_text(read_dockerfile(dockerfile))[:-1].split("\n")
    document = explanation(steps, result.written, result.spec.layers,
                           MEDIA_OCI_LAYER + output.compression.media_suffix, str(dockerfile), source)
    return document, result


def local_inputs(options: BuildOptions) -> list[str]:
    """Every local path a build may read: the context, the Dockerfile and the ignore file
    beside it, and each --build-context (absolute paths)."""
    dockerfile = options.dockerfile or default_dockerfile(Path(options.context))
    paths = [options.context, dockerfile, Path(f"{dockerfile}.dockerignore")]
    for item in options.build_contexts:  # NAME=docker-archive:PATH and the like
        location = item.partition("=")[2].partition(":")[2]
        if location:
            paths.append(Path(location))
    return [os.path.abspath(path) for path in paths]


def start_recording(options: BuildOptions, argv: list[str]) -> recording.Recording | None:
    """Watch a build whose outcome can be answered from the stat of local files next time: one
    that writes an archive file, loads and pushes nothing, and keeps reproducible times."""
    if options.cache_dir is None or options.load or options.push or \
            (options.timestamp or "").lower() == "now":
        return None
    try:
        output = parse_output(options.output)
        cache_dir = recording.cache_dir_from_argv(argv)
        if (output.type not in ("docker", "oci") or output.dest == "-" or cache_dir is None
                or Path(cache_dir).resolve() != Path(options.cache_dir).resolve()):
            return None
        keeps_times = options.timestamp is not None or bool(options.source_date_epoch)
        return recording.Recording(argv, cache_dir, local_inputs(options), keeps_times,
                                  _wholly_ignored(options))
    except (OSError, PybuildError):  # the build itself will say what is wrong
        return None


def _wholly_ignored(options: BuildOptions):
    """Whether a directory is one that .dockerignore leaves out with all it holds (no `!` rule
    could bring anything below it back): its contents cannot change the image."""
    context = os.path.abspath(options.context)
    rules = load_ignore_rules(Path(context), options.dockerfile or default_dockerfile(Path(context)))
    if rules is None or rules.has_exclusions:
        return None
    return lambda path: path.startswith(context + os.sep) and rules.ignored(path[len(context) + 1:])


def finish_recording(watch: recording.Recording, options: BuildOptions, result: BuildResult,
                     lines: list[tuple[str, str]]) -> None:
    """Record the build for `pybuild` to answer next time (recording.py), unless it fetched
    anything from the network. The record is an optimisation: failing to write it is silent."""
    if result.spec.fetched or result.output is None:
        return
    consulted = ["SOURCE_DATE_EPOCH"] + [item for item in options.build_args if "=" not in item]
    env = {name: os.environ.get(name) for name in consulted}
    try:
        watch.finish(result.output, env, lines)
    except OSError:
        pass


def _registry_client(host: str, creds: str | None, insecure: bool):
    from .oci.registry import RegistryClient, credentials

    api_host = "registry-1.docker.io" if host == "docker.io" else host
    return RegistryClient(api_host, credentials(host, creds), insecure)


def default_dockerfile(context_dir: Path) -> Path:
    """CONTEXT/Dockerfile, or CONTEXT/dockerfile when only that exists (as Docker accepts)."""
    upper, lower_case = context_dir / "Dockerfile", context_dir / "dockerfile"
    return lower_case if not upper.exists() and lower_case.exists() else upper
