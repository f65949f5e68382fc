"""Library entry points, used by the CLI and the tests: parse a Dockerfile, build an image,
explain a build. Options come in as one typed BuildOptions; progress goes out to a Reporter;
errors are raised as PybuildErrors. Nothing here prints."""

from __future__ import annotations

import json
import os
import re
import stat
import tempfile
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from . import recording
from .attest.options import AttestOptions
from .build.context import BuildContext
from .build.contexts import parse_named_context
from .build.evaluator import Evaluation, evaluate
from .build.ignore import load_ignore_rules
from .build.timestamps import Timestamps
from .dockerfile.checks import CheckFailed, Warning, active_warnings
from .dockerfile.dump import dump
from .dockerfile.instructions import Dockerfile
from .dockerfile.lower import lower
from .dockerfile.parser import normalise_text, parse_dockerfile
from .errors import DockerfileSyntaxError, Location, PybuildError, UsageError
from .events import QUIET, Reporter
from .oci.blobstore import BlobStore, Pruned, default_cache_path
from .oci.layer import Layer
from .oci.model import MEDIA_OCI_LAYER, Image, LayerBlob, WrittenImage
from .oci.platform import host_platform, parse_platforms
from .oci.reference import Reference, parse_reference
from .oci.registry import RegistryAccess
from .oci.sinks import DiscardSink
from .outputs.export import Exporting, export
from .outputs.files import PLACED
from .outputs.spec import STDOUT, OutputSpec, parse_annotation, untagged_name

if TYPE_CHECKING:  # git is asked only for provenance and --git-labels
    from .attest.vcs import Checkout


@dataclass(frozen=True)
class BuildOptions:
    """What `pybuild build` was asked to do."""

    context: Path
    dockerfile: Path | None = None  # default: CONTEXT/Dockerfile
    dockerfile_text: str | None = None  # `-f -`: the Dockerfile read from stdin (then not read)
    tags: tuple[str, ...] = ()
    output: OutputSpec = OutputSpec()  # -o, --load and --push, parsed (outputs/spec.py)
    registry: RegistryAccess = field(default_factory=RegistryAccess)  # credentials, --insecure
    build_contexts: tuple[str, ...] = ()  # NAME=docker-archive:PATH|oci-archive:PATH|oci-layout:DIR
    platform: str | None = None
    build_args: tuple[str, ...] = ()  # K=V, or K to take K from the environment
    labels: tuple[str, ...] = ()  # K=V, added to the image's labels
    target: str | None = None
    check: str | None = None  # "error", or like the directive: "skip=Rule,...;error=true"
    timestamp: str | None = None  # "now", or seconds like SOURCE_DATE_EPOCH
    cache_dir: Path | None = field(default_factory=default_cache_path)  # None: no layer cache
    source_date_epoch: str | None = field(
        default_factory=lambda: os.environ.get("SOURCE_DATE_EPOCH")
    )
    record_steps: bool = False  # keep what each instruction did (explain sets it)
    # Leave a summary of this build in the cache directory for the next one's `explain --why`
    # and cache-miss reasons (explain compares with it instead).
    keep_summary: bool = True
    attest: AttestOptions = AttestOptions()  # SBOM, provenance, git labels
    annotations: tuple[str, ...] = ()  # --annotation [PLACE:]KEY=VALUE
    cache_from: tuple[str, ...] = ()  # type=registry,ref=REF | type=local,src=DIR (layercache.py)
    cache_to: tuple[str, ...] = ()  # type=registry,ref=REF | type=local,dest=DIR


@dataclass(frozen=True)
class BuildResult:
    """A finished build: what each instruction did and the image (`evaluation`), what was
    written (`written`), where (`output`, its dest resolved), and warnings for the user."""

    evaluation: Evaluation
    written: WrittenImage
    output: OutputSpec
    warnings: tuple[str, ...] = ()
    names: tuple[str, ...] = ()  # the image's full names: its tags, or where it was pushed
    evaluations: tuple[Evaluation, ...] = ()  # one per platform (`evaluation` is the first)
    timestamps: Timestamps = Timestamps()  # the times used, and where they came from
    summary: dict[str, Any] | None = None  # what the next build compares with (reports/why.py)

    @property
    def image_id(self) -> str:
        return self.written.image_id

    @property
    def dest(self) -> str | None:
        """Where the image was written: a path, "-", or None (only loaded or pushed)."""
        return self.output.dest


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
    """The Dockerfile's text. A FIFO or device is opened without waiting for a writer (a named
    pipe nobody writes to is an empty Dockerfile, not a hang); `-f <(...)` still works."""
    try:
        data = _read_without_waiting(path)
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


def dockerfile_text(options: BuildOptions, path: Path) -> str:
    """The Dockerfile as given on stdin (`-f -`), else read from `path`."""
    if options.dockerfile_text is not None:
        return options.dockerfile_text
    return read_dockerfile(path)


def _read_without_waiting(path: Path) -> bytes:
    import fcntl

    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        flags = fcntl.fcntl(descriptor, fcntl.F_GETFL)
        fcntl.fcntl(descriptor, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)  # a writer may be slow
        mode = os.fstat(descriptor).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(21, "Is a directory")
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):  # /dev/zero would never end
            raise UsageError(f"the Dockerfile {path} is a device, not a file")
        with os.fdopen(descriptor, "rb", closefd=False) as handle:
            return handle.read()
    finally:
        os.close(descriptor)


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
            {
                "line": i.location.line,
                "column": i.location.column,
                "instruction": i.keyword.upper(),
                "flags": [flag.raw for flag in i.flags],
                "text": i.text,
            }
            for i in instructions
        ]
        return json.dumps({"file": str(dockerfile), "instructions": items}, indent=2) + "\n"
    return "".join(f"{i.location.line}:{i.location.column}\t{i.text}\n" for i in instructions)


def build(
    options: BuildOptions, *, stdout: BinaryIO | None = None, reporter: Reporter = QUIET
) -> BuildResult:
    """Build the image and write it as `options.output` says; nothing is left behind when
    anything fails. `stdout` receives an image written to "-" (the caller's to give: the
    library touches no terminal)."""
    if options.output.to_stdout and stdout is None:
        raise UsageError("the image goes to - (stdout), but no stdout was given to write it to")
    PLACED.clear()  # what this build puts in place, for an interrupt's message
    context_dir = Path(options.context)
    if not context_dir.is_dir():
        raise UsageError(f"build context is not a directory: {context_dir}")
    dockerfile = options.dockerfile or default_dockerfile(context_dir)
    build_args = key_values(options.build_args, "--build-arg", from_environment=True)
    labels = key_values(options.labels, "--label", from_environment=False)
    refs = [parse_reference(tag) for tag in options.tags]
    platforms = parse_platforms(options.platform) if options.platform else (host_platform(),)
    timestamps = Timestamps.from_environment(options.source_date_epoch, options.timestamp)
    output = options.output.with_default_dest(refs)
    annotations = tuple(item for text in options.annotations for item in parse_annotation(text))
    output = replace(output, annotations=output.annotations + annotations)
    if output.type == "bundle" and (options.attest.any or output.annotations):
        raise UsageError(
            "attestations and annotations go with an image's manifest and index: "
            "-o type=bundle writes neither"
        )
    if options.attest.any and not output.oci_media_types:
        raise UsageError(
            "attestations need an OCI image index and OCI manifests: drop oci-mediatypes=false"
        )
    if os.environ.get("PYBUILD_CACHE_MAX"):  # a bad cap is said before any work
        parse_size(os.environ["PYBUILD_CACHE_MAX"], "PYBUILD_CACHE_MAX")
    if options.cache_from or options.cache_to:  # a misspelt cache is said before any work
        from .oci.layercache import parse_cache

        for flag, texts in (("--cache-from", options.cache_from), ("--cache-to", options.cache_to)):
            for text in texts:
                parse_cache(text, flag)
    checkout = None
    if options.attest.provenance is not None or options.attest.git_labels:
        from .attest.vcs import checkout as find_checkout

        checkout = find_checkout(context_dir.resolve())
    if options.attest.git_labels:
        labels = {**git_labels(checkout, context_dir), **labels}

    text = dockerfile_text(options, dockerfile)
    parsed = parse(text, str(dockerfile))
    lint, fatal = active_warnings(parsed, options.check)
    if fatal and lint:
        first, others = lint[0], lint[1:]
        more = f" (and {len(others)} more: {', '.join(w.rule for w in others)})" if others else ""
        raise CheckFailed(
            f"{first.rule}: {first.message}{more}; build checks are errors here "
            "(--check=error or # check=error=true)",
            first.location,
        )
    beside = dockerfile if options.dockerfile_text is None else None  # stdin: none beside it
    context = BuildContext(context_dir, load_ignore_rules(context_dir, beside))
    store = BlobStore(options.cache_dir)
    summarised = store.root is not None  # what each instruction did is kept for the next build
    # Decompressed ADD archives and base layers live here until the image is written, then go;
    # the build's registry connections are closed then too.
    with tempfile.TemporaryDirectory(prefix="pybuild-") as scratch, closing(options.registry):
        evaluations = [
            evaluate(
                parsed,
                context,
                platform=platform,
                timestamps=timestamps,
                build_args=build_args,
                target=options.target,
                labels=labels,
                scratch=Path(scratch),
                build_contexts=key_values(
                    options.build_contexts, "--build-context", from_environment=False
                ),
                registry=options.registry,
                reporter=reporter,
                store=store,
                record_steps=options.record_steps or summarised,
            )
            for platform in platforms
        ]
        evaluation = evaluations[0]
        images = [item.image for item in evaluations]
        if options.attest.any:
            from .attest.attach import BuildFacts, attach

            facts = BuildFacts(
                dockerfile,
                text,
                context,
                started=timestamps.created,
                finished=timestamps.created if options.timestamp != "now" else _now(),
                target=options.target or "",
                build_args=build_args,
                checkout=checkout,
            )
            images = attach(evaluations, options.attest, facts)
        mountable = _take_from_caches(
            options, images, output=output, refs=refs, store=store, reporter=reporter
        )
        using = Exporting(store, reporter, stdout, options.registry, mountable)
        written = export(images, refs, output, using=using)
        _write_caches(
            options, images, written, output=output, refs=refs, store=store, reporter=reporter
        )
    warnings = tuple(str(warning) for warning in lint) + evaluation.warnings
    names = tuple(ref.full for ref in [parse_reference(name) for name in output.names] or refs)
    _capped(store)
    if output.named_by_id:
        output = replace(output, dest=untagged_name(written.image_id))
    summary = None
    if summarised:
        summary = _summarise(evaluation, written, build_args=build_args, timestamps=timestamps)
        if options.keep_summary:
            _keep_summary(
                summary,
                store,
                context=context_dir,
                dockerfile=dockerfile,
                target=options.target or "",
                platforms=options.platform or "",
                reporter=reporter,
            )
    return BuildResult(
        evaluation,
        written,
        output,
        warnings,
        names,
        tuple(evaluations),
        timestamps=timestamps,
        summary=summary,
    )


def _summarise(
    evaluation: Evaluation,
    written: WrittenImage,
    *,
    build_args: dict[str, str],
    timestamps: Timestamps,
) -> dict[str, Any]:
    from .reports import why  # the teaching module loads only for builds with a cache

    return why.summary(evaluation, written, build_args=build_args, timestamps=timestamps)


def _keep_summary(
    summary: dict[str, Any],
    store: BlobStore,
    *,
    context: Path,
    dockerfile: Path,
    target: str,
    platforms: str,
    reporter: Reporter,
) -> None:
    """Say which layers differ from the last build's and why, then replace its summary."""
    from .reports import why

    assert store.root is not None
    path = why.record_path(store.root, context, dockerfile, target=target, platforms=platforms)
    for reason in why.miss_reasons(why.load(path), summary):
        reporter.note(reason)
    why.save(path, summary)


def check_only(options: BuildOptions) -> list[Warning]:
    """`--check` with no settings: the build checks, run without building (as `docker build
    --check`), after the Dockerfile's `# check=skip=...` directive."""
    context_dir = Path(options.context)
    dockerfile = options.dockerfile or default_dockerfile(context_dir)
    parsed = parse(dockerfile_text(options, dockerfile), str(dockerfile))
    return active_warnings(parsed, None)[0]


def _push_targets(output: OutputSpec, refs: list[Reference]) -> list[Reference]:
    if output.type != "registry":
        return []
    return [parse_reference(name) for name in output.names] or refs


def _take_from_caches(
    options: BuildOptions,
    images: list[Image],
    *,
    output: OutputSpec,
    refs: list[Reference],
    store: BlobStore,
    reporter: Reporter,
) -> dict[str, tuple[str, str]]:
    """--cache-from: the layers the caches hold are made known to the local store (mounted
    when the image goes to the cache's registry, else downloaded); returns what to mount."""
    if not options.cache_from:
        return {}
    from .oci import layercache

    specs = [layercache.parse_cache(text, "--cache-from") for text in options.cache_from]
    if store.root is None:
        reporter.note("warning: --cache-from needs the layer cache: it is not used with --no-cache")
        return {}
    remote = layercache.read_caches(specs, options.registry, reporter=reporter)
    targets = _push_targets(output, refs)
    domains = {ref.domain for ref in targets}
    taken = layercache.take_from_caches(
        images,
        remote,
        compression=output.compression,
        store=store,
        mount_to=domains.pop() if len(domains) == 1 else None,
        access=options.registry,
        reporter=reporter,
    )
    reporter.note(f"--cache-from: {taken} layers taken from the cache")
    return remote.mountable


def _write_caches(
    options: BuildOptions,
    images: list[Image],
    written: WrittenImage,
    *,
    output: OutputSpec,
    refs: list[Reference],
    store: BlobStore,
    reporter: Reporter,
) -> None:
    if not options.cache_to:
        return
    from .oci import layercache

    targets = _push_targets(output, refs)

    def make_blob(layer: Layer, path: Path) -> LayerBlob:
        with open(path, "wb") as out:
            return layer.write_blob(out, output.compression, store)

    for text in options.cache_to:
        layercache.write_cache(
            layercache.parse_cache(text, "--cache-to"),
            images,
            compression=output.compression,
            store=store,
            access=options.registry,
            pushed_to=targets[0] if targets else None,
            make_blob=make_blob,
            reporter=reporter,
        )


SIZE_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000**2, "mb": 1000**2}
SIZE_UNITS |= {"mib": 1024**2, "g": 1000**3, "gb": 1000**3, "gib": 1024**3, "t": 1000**4}
SIZE_UNITS |= {"tb": 1000**4, "tib": 1024**4}
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_size(text: str, what: str) -> int:
    """`10GB`, `500MiB`, `1.5g`, or bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    if match is None or match.group(2).lower() not in SIZE_UNITS:
        raise UsageError(f"{what} {text!r}: expected a size such as 10GB, 500MiB or 1000000")
    return int(float(match.group(1)) * SIZE_UNITS[match.group(2).lower()])


def parse_duration(text: str, what: str) -> float:
    """`24h`, `90m`, `7d`, `1h30m` (Go's spelling, as `docker builder prune` reads it)."""
    parts = re.findall(r"(\d+(?:\.\d+)?)([smhdw])", text)
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        raise UsageError(f"{what} {text!r}: expected a duration such as 24h, 90m or 7d")
    return sum(float(number) * DURATION_UNITS[unit] for number, unit in parts)


def prune(cache_dir: Path, *, keep_storage: str | None = None, until: str | None = None) -> Pruned:
    """`pybuild prune`: the cache's least recently used files go first (BlobStore.prune)."""
    keep = parse_size(keep_storage, "--keep-storage") if keep_storage is not None else None
    unused = parse_duration(until, "--filter until=") if until is not None else None
    return BlobStore(cache_dir).prune(keep_bytes=keep, unused_for=unused)


def _capped(store: BlobStore) -> None:
    """PYBUILD_CACHE_MAX (a size): after a build, the cache is pruned back under it."""
    cap = os.environ.get("PYBUILD_CACHE_MAX")
    if cap and store.root is not None:
        store.prune(keep_bytes=parse_size(cap, "PYBUILD_CACHE_MAX"))


def _now() -> str:
    import datetime as dt

    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def git_labels(checkout: Checkout | None, context_dir: Path) -> dict[str, str]:
    """`--git-labels`: the checkout's remote as org.opencontainers.image.source and, when the
    tree is clean (else the image would claim a revision it is not), its revision."""
    if checkout is None:
        raise UsageError(
            f"--git-labels: the build context {context_dir} is not the top of a git checkout "
            "(with a commit), or git is not installed"
        )
    labels = {}
    if checkout.source:
        labels["org.opencontainers.image.source"] = checkout.source
    if checkout.clean:
        labels["org.opencontainers.image.revision"] = checkout.revision
    return labels


def write_result_files(
    result: BuildResult, *, iidfile: Path | None = None, metadata_file: Path | None = None
) -> None:
    """`--iidfile` (the image ID, as docker build writes it) and `--metadata-file` (buildx's
    keys), so that the next step of a pipeline can sign or deploy NAME@sha256:..."""
    if iidfile is not None:
        iidfile.write_text(result.image_id)
    if metadata_file is not None:
        metadata = {
            "containerimage.config.digest": result.image_id,
            "containerimage.digest": result.written.manifest_digest,
        }
        if result.names:
            metadata["image.name"] = ",".join(result.names)
        metadata_file.write_text(json.dumps(metadata, indent=2) + "\n")


def explain(
    options: BuildOptions,
    *,
    stdout: BinaryIO | None = None,
    why: bool = False,
    against: Path | None = None,
) -> tuple[dict[str, Any], BuildResult]:
    """Build as `build` does and say what each instruction produced; the image is written
    only when `options.output` asks for it (a dest, or --load). `why` adds how the image
    differs from the last build of this context and Dockerfile (reports/why.py); `against`
    how it differs from that image (an archive or layout), file by file."""
    wanted = options.output.dest is not None or options.output.load
    if against is not None and wanted:
        raise UsageError("--against compares with an image written for the purpose: drop --image")
    dockerfile = options.dockerfile or default_dockerfile(Path(options.context))
    from .reports import why as whys  # the teaching modules load only when asked for
    from .reports.explain import explanation

    last = None
    if why:
        if options.cache_dir is None:
            raise UsageError("--why compares with the build recorded in the cache: drop --no-cache")
        last = whys.load(
            whys.record_path(
                options.cache_dir,
                Path(options.context),
                dockerfile,
                target=options.target or "",
                platforms=options.platform or "",
            )
        )
    with tempfile.TemporaryDirectory(prefix="pybuild-explain-") as scratch:
        fresh = Path(scratch) / "image.tar"
        if wanted:
            output = options.output
        elif against is not None:
            output = replace(options.output, type="docker", dest=str(fresh))
        else:
            output = replace(options.output, dest=STDOUT)
        run = replace(
            options,
            output=output,
            tags=options.tags or ("explain:latest",),
            record_steps=True,
            keep_summary=False,  # explain looks; only a build leaves the summary
        )
        result = build(run, stdout=stdout if wanted else cast(BinaryIO, DiscardSink()))
        source = normalise_text(dockerfile_text(options, dockerfile))[:-1].split("\n")
        document = explanation(
            result.evaluation,
            result.written,
            MEDIA_OCI_LAYER + result.output.compression.media_suffix,
            dockerfile=str(dockerfile),
            source=source,
            others=result.evaluations[1:],
            timestamps=result.timestamps,
        )
        document["archive"] = _anatomy(result, run, document)
        if why:
            document["why"] = (
                whys.compare(last, result.summary)
                if last is not None and result.summary is not None
                else None
            )
        if against is not None:
            from .reports.diff import diff_images, read_facts

            document["against"] = whys.placed(
                diff_images(read_facts(against), read_facts(fresh)), document
            )
    return document, result


def _anatomy(result: BuildResult, options: BuildOptions, explained: dict[str, Any]) -> dict | None:
    """The documents of the archive explain's build wrote (or would have written) as one
    image; None for an index (several platforms, attestations): `inspect` shows those."""
    from .oci.layout import documents
    from .reports.explain import anatomy

    found = documents(
        result.evaluation.image,
        [parse_reference(tag) for tag in options.tags],
        list(result.written.layers),
        compression=result.output.compression,
        docker=result.output.type == "docker",
        annotations=result.output.annotations,
    )
    if found.manifest_digest != result.written.manifest_digest:
        return None
    return anatomy(found.files, found.manifest, found.config, explained=explained)


def local_inputs(options: BuildOptions) -> list[str]:
    """Every local path a build may read: the context, the Dockerfile and the ignore file
    beside it, and each --build-context (absolute paths)."""
    dockerfile = options.dockerfile or default_dockerfile(Path(options.context))
    paths = [options.context, dockerfile, Path(f"{dockerfile}.dockerignore")]
    for name, value in key_values(options.build_contexts, "--build-context", False).items():
        local = parse_named_context(name, value).local_path  # None: an image from a registry
        if local:
            paths.append(Path(local))
    return [os.path.abspath(path) for path in paths]


def start_recording(options: BuildOptions, argv: list[str]) -> recording.Recording | None:
    """Watch a build whose outcome can be answered from the stat of local files next time: one
    that writes an archive file, loads and pushes nothing, and keeps reproducible times."""
    output = options.output
    if (
        options.dockerfile_text is not None  # stdin leaves no file to watch
        or options.cache_to  # the cache must be written, and --cache-from may have moved
        or options.cache_from
        or options.attest.any  # provenance names git revisions, which no watched file shows
        or options.attest.git_labels
        or options.cache_dir is None
        or output.load
        or output.type not in ("docker", "oci")
        or output.to_stdout
        or (options.timestamp or "").lower() == "now"
    ):
        return None
    try:
        cache_dir = recording.cache_dir_from_argv(argv)
        if cache_dir is None or Path(cache_dir).resolve() != Path(options.cache_dir).resolve():
            return None
        keeps_times = options.timestamp is not None or bool(options.source_date_epoch)
        return recording.Recording(
            argv,
            cache_dir,
            local_inputs(options),
            directory_times=keeps_times,
            prune=_wholly_ignored(options),
        )
    except (OSError, PybuildError):  # the build itself will say what is wrong
        return None


def _wholly_ignored(options: BuildOptions) -> Callable[[str], bool] | None:
    """Whether a directory is one that .dockerignore leaves out with all it holds (no `!` rule
    could bring anything below it back): its contents cannot change the image."""
    context = os.path.abspath(options.context)
    rules = load_ignore_rules(
        Path(context), options.dockerfile or default_dockerfile(Path(context))
    )
    if rules is None or rules.has_exclusions:
        return None
    return lambda path: (
        path.startswith(context + os.sep) and rules.ignored(path[len(context) + 1 :])
    )


def finish_recording(
    watch: recording.Recording,
    options: BuildOptions,
    result: BuildResult,
    *,
    lines: list[tuple[str, str]],
) -> None:
    """Record the build for `pybuild` to answer next time (recording.py), unless it fetched
    anything from the network. The record is an optimisation: failing to write it is silent."""
    if result.evaluation.fetched or result.dest is None:
        return
    consulted = ["SOURCE_DATE_EPOCH"] + [item for item in options.build_args if "=" not in item]
    env = {name: os.environ.get(name) for name in consulted}
    try:
        watch.finish(result.dest, env, lines, identity=result.written.dest_identity)
    except OSError:
        pass


def default_dockerfile(context_dir: Path) -> Path:
    """CONTEXT/Dockerfile, or CONTEXT/dockerfile when only that exists (as Docker accepts)."""
    upper, lower_case = context_dir / "Dockerfile", context_dir / "dockerfile"
    return lower_case if not upper.exists() and lower_case.exists() else upper


def registry_host(server: str | None) -> str:
    """The registry a login names: Docker Hub when none is given, a URL's host when one is."""
    if not server:
        return "docker.io"
    host = server.split("://", 1)[-1].split("/", 1)[0]
    return "docker.io" if host in ("index.docker.io", "registry-1.docker.io") else host


def login(server: str | None, username: str, password: str, *, insecure: bool = False) -> str:
    """Check the login with the registry (as `docker login` does), then keep it where Docker
    would; returns where it went."""
    from .oci.credentials import DOCKER_HUB, Credentials, store_credentials
    from .oci.registry import DOCKER_HUB_API, RegistryClient, RegistryError

    host = registry_host(server)
    if not username or not password:
        raise UsageError("login needs a username and a password (or --password-stdin)")
    api_host = DOCKER_HUB_API if host in DOCKER_HUB else host
    client = RegistryClient(api_host, Credentials(username, password), insecure)
    try:
        client.request("GET", "/v2/", "", expect=(200,)).close()
    except RegistryError as error:
        raise UsageError(f"login to {host} failed: {error}") from None
    finally:
        client.connections.close()
    return store_credentials(host, Credentials(username, password))


def create_index(
    target: str, sources: tuple[str, ...], *, access: RegistryAccess, reporter: Reporter = QUIET
) -> str:
    """`pybuild index create -t TARGET SOURCE...`: join images (each one platform, or an
    index; pushed, or local as oci-layout://DIR, oci-archive:PATH or docker-archive:PATH) into
    one image index; returns its digest."""
    from .oci.registry import create_index as join

    if not sources:
        raise UsageError("index create needs at least one source image")
    local = ("oci-layout://", "oci-layout:", "oci-archive:", "docker-archive:")
    found: list[str | Path] = []
    for source in sources:
        prefix = next((item for item in local if source.startswith(item)), None)
        found.append(Path(source.removeprefix(prefix)) if prefix else source)
    with closing(access):
        return join(parse_reference(target), found, access=access, reporter=reporter)


def logout(server: str | None) -> tuple[str, bool]:
    """Forget the login for a registry; (its host, whether there was one)."""
    from .oci.credentials import erase_credentials

    host = registry_host(server)
    return host, erase_credentials(host)
