"""The command line: click flags -> BuildOptions -> api.build(). The one module that knows
click and the terminal: it picks the progress renderer, prints results and warnings, and turns
every PybuildError into one message and exit code 1. It formats; it does not decide."""

from __future__ import annotations

import json
import signal
import sys
from functools import partial
from pathlib import Path

import click

from . import __version__, api
from .attest.options import parse_attest
from .errors import PybuildError
from .oci.registry import RegistryAccess
from .outputs.spec import STDOUT, parse_output
from .progress import make_progress

CHECK_ONLY = "\0check-only"  # what a bare --check gives (no setting can be spelt so)
PROGRESS_MODES = ["auto", "plain", "tty", "quiet", "json"]
CACHE_DIR = click.option(  # build, bake and prune: the same cache, spelt the same way
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Layer cache (default: $XDG_CACHE_HOME/pybuild or ~/.cache/pybuild).",
)


class DefaultToBuild(click.Group):
    """`pybuild -t x .` means `pybuild build -t x .`, as `docker build` users type it."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = ["build", *args]
        return super().parse_args(ctx, with_attest_values(args))


def with_attest_values(args: list[str]) -> list[str]:
    """`--sbom[=VALUE]` and `--provenance[=VALUE]` of `build` as `--attest type=sbom,VALUE`,
    in place, so that the last of them wins as in buildx (a bare `--sbom` takes no value:
    `--sbom .` never takes the context as one)."""
    if not args or args[0] != "build":
        return args
    rewritten: list[str] = []
    for number, arg in enumerate(args):
        if arg == "--":
            return rewritten + args[number:]
        name, equals, value = arg.partition("=")
        if name in ("--sbom", "--provenance"):
            rewritten += ["--attest", f"type={name[2:]}" + (f",{value}" if equals else "")]
        else:
            rewritten.append(arg)
    return rewritten


@click.group(cls=DefaultToBuild, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pybuild")
def main() -> None:
    """Build container images from Dockerfiles, without a daemon, a runtime or root.

    \b
    pybuild -t hello:latest -o hello.tar samples/hello
    docker load -i hello.tar && docker run --rm hello:latest
    """


@main.command()
@click.argument("context", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "-f",
    "--file",
    "dockerfile",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The Dockerfile (default: CONTEXT/Dockerfile); - reads it from stdin.",
)
@click.option("-t", "--tag", "tags", multiple=True, help="Name and tag, NAME[:TAG]; may repeat.")
@click.option(
    "-o",
    "--output",
    metavar="PATH|-|type=...,dest=...",
    help="Where and how to write the image: a path, - for stdout, or buildx-style "
    "type=docker|oci|oci-dir|bundle|registry,dest=PATH,name=REF,compression=uncompressed|gzip|zstd,"
    "compression-level=N (default: NAME-TAG.tar from the first tag).",
)
@click.option("--load", is_flag=True, help="Load the image into docker (or podman).")
@click.option("--push", is_flag=True, help="Push to the registry of every -t tag.")
@click.option(
    "--creds",
    metavar="USER:PASSWORD",
    help="Registry credentials (else PYBUILD_REGISTRY_CREDS, else $DOCKER_CONFIG/config.json).",
)
@click.option("--insecure", is_flag=True, help="Plain HTTP to a registry off loopback.")
@click.option(
    "--pull",
    type=click.Choice(["missing", "always", "never"]),
    default="missing",
    show_default=True,
    help="Base images: use what is stored (missing), ask the registry for every tag "
    "(always), or never ask it (offline).",
)
@click.option(
    "--registry-mirror",
    "registry_mirrors",
    multiple=True,
    metavar="HOST[:PORT]",
    help="Pull Docker Hub images from this mirror first (as dockerd's option); may "
    "repeat. Other mirrors: registries.conf.",
)
@click.option(
    "--timestamp",
    metavar="now|SECONDS",
    help="Image times: SECONDS like SOURCE_DATE_EPOCH; now for the build time and "
    "files' own mtimes (not reproducible). Default: the epoch, or SOURCE_DATE_EPOCH.",
)
@click.option("--platform", help="Target platform os/arch[/variant] (default: this machine's).")
@click.option(
    "--build-arg",
    "build_args",
    multiple=True,
    metavar="KEY[=VALUE]",
    help="Set a build argument (KEY alone: take it from the environment); may repeat.",
)
@click.option(
    "--label",
    "labels",
    multiple=True,
    metavar="KEY=VALUE",
    help="Add a label to the image; may repeat.",
)
@click.option("--target", help="Build this stage (by name) instead of the last one.")
@click.option(
    "--build-context",
    "build_contexts",
    multiple=True,
    metavar="NAME=docker-archive:PATH|oci-archive:PATH|oci-layout:DIR",
    help="A local image usable as FROM NAME or COPY --from=NAME; may repeat.",
)
@click.option(
    "--check",
    "check",
    is_flag=False,
    flag_value=CHECK_ONLY,
    metavar="[SETTINGS]",
    help="Alone: run the build checks only, as docker build --check (exit 1 on a warning). "
    "'error' makes warnings fatal; 'skip=Rule,...' silences rules.",
)
@click.option(
    "--cache-from",
    "cache_from",
    multiple=True,
    metavar="type=registry,ref=REF|type=local,src=DIR",
    help="Take layers from a layer cache another machine left (a registry or a directory).",
)
@click.option(
    "--cache-to",
    "cache_to",
    multiple=True,
    metavar="type=registry,ref=REF|type=local,dest=DIR",
    help="Leave this build's layers and their content keys as a cache there.",
)
@CACHE_DIR
@click.option("--no-cache", is_flag=True, help="Build every layer from its sources; no cache.")
@click.option(
    "--progress",
    type=click.Choice(PROGRESS_MODES),
    default="auto",
    show_default=True,
    help="Layer progress on stderr: tty redraws a line, plain prints one per layer.",
)
@click.option("-q", "--quiet", is_flag=True, help="Print only the image ID.")
@click.option(
    "--sbom",
    is_flag=True,
    help="Attach an SBOM (SPDX 2.3) of every file and package; --sbom=format=cyclonedx for "
    "CycloneDX 1.6. The image becomes an index with an attestation manifest, as BuildKit's.",
)
@click.option(
    "--provenance",
    is_flag=True,
    help="Attach SLSA v1 provenance (mode=min); --provenance=mode=max adds build args.",
)
@click.option(
    "--attest",
    "attest",
    multiple=True,
    metavar="type=sbom|provenance,...",
    help="An attestation as buildx spells it (format=spdx|cyclonedx, mode=min|max, "
    "disabled=true); may repeat.",
)
@click.option(
    "--annotation",
    "annotations",
    multiple=True,
    metavar="[PLACE[,PLACE][PLATFORM]:]KEY=VALUE",
    help="An OCI annotation on the manifest (default), index, manifest-descriptor or "
    "index-descriptor; may repeat.",
)
@click.option(
    "--git-labels",
    is_flag=True,
    help="Label the image with the context's git remote and (clean tree only) revision: "
    "org.opencontainers.image.source/revision. Changes the digest at every commit.",
)
@click.option(
    "--iidfile",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the image ID to this file.",
)
@click.option(
    "--metadata-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the image's digests and names as JSON (buildx's keys) to this file.",
)
def build(
    context: Path | None,
    dockerfile: Path | None,
    tags: tuple[str, ...],
    *,
    output: str | None,
    platform: str | None,
    build_args: tuple[str, ...],
    labels: tuple[str, ...],
    target: str | None,
    build_contexts: tuple[str, ...],
    check: str | None,
    load: bool,
    push: bool,
    creds: str | None,
    insecure: bool,
    registry_mirrors: tuple[str, ...],
    pull: str,
    timestamp: str | None,
    cache_dir: Path | None,
    no_cache: bool,
    cache_from: tuple[str, ...],
    cache_to: tuple[str, ...],
    progress: str,
    quiet: bool,
    iidfile: Path | None,
    metadata_file: Path | None,
    sbom: bool,
    provenance: bool,
    attest: tuple[str, ...],
    annotations: tuple[str, ...],
    git_labels: bool,
) -> None:
    """Build the Dockerfile in CONTEXT into an image archive (docker-archive + OCI layout)."""
    check, context, only_check = _check_mode(check, context)
    dockerfile, text = _dockerfile_argument(dockerfile)
    options = api.BuildOptions(
        context=context,
        dockerfile=dockerfile,
        dockerfile_text=text,
        tags=tags,
        output=run(lambda: parse_output(output, load, push)),
        registry=RegistryAccess(creds, insecure, registry_mirrors, pull),
        platform=platform,
        build_args=build_args,
        labels=labels,
        target=target,
        check=check,
        timestamp=timestamp,
        build_contexts=build_contexts,
        attest=run(
            lambda: parse_attest(
                attest,
                sbom="" if sbom else None,
                provenance="" if provenance else None,
                git_labels=git_labels,
            )
        ),
        annotations=annotations,
        cache_from=cache_from,
        cache_to=cache_to,
        **({"cache_dir": None} if no_cache else {"cache_dir": cache_dir} if cache_dir else {}),
    )
    if only_check:
        found = run(lambda: api.check_only(options))
        for warning in found:
            click.echo(warning.report() + "\n", err=True)
        plural = "warning has" if len(found) == 1 else "warnings have"
        click.echo(f"Check complete, {len(found) or 'no'} {plural} been found!", err=True)
        sys.exit(1 if found else 0)
    if options.output.to_stdout and sys.stdout.isatty():
        run(
            lambda: _refuse(
                "-o -: the image is a binary tar and stdout is a terminal; redirect it "
                "(-o - > image.tar, or -o - | docker load) or give -o PATH"
            )
        )
    argv = (click.get_current_context().find_root().obj or {}).get("argv")
    # A build that writes files besides the image is never answered from a record.
    writes_more = iidfile is not None or metadata_file is not None
    recording = api.start_recording(options, argv) if argv and not writes_more else None
    reporter = make_progress("quiet" if quiet else progress)
    stdout = sys.stdout.buffer
    result = run(lambda: api.build(options, stdout=stdout, reporter=reporter))
    run(lambda: api.write_result_files(result, iidfile=iidfile, metadata_file=metadata_file))
    for stream, text in outcome_lines(result, quiet, result.written.up_to_date):
        click.echo(text, err=stream == "err")
    if recording is not None:  # what an unchanged rebuild of this command will print
        lines = outcome_lines(result, quiet, up_to_date=True)
        run(lambda: api.finish_recording(recording, options, result, lines=lines))


def outcome_lines(result: api.BuildResult, quiet: bool, up_to_date: bool) -> list[tuple[str, str]]:
    """What a build prints, as (stream, text) pairs: warnings, then the image ID and where the
    image went (only the ID with -q, on stdout unless the image itself goes there)."""
    to_stdout = result.dest == STDOUT
    lines = [("err", f"warning: {warning}") for warning in result.warnings]
    if quiet:
        return lines + [("err" if to_stdout else "out", result.image_id)]
    if up_to_date:
        lines.append(("err", f"{result.dest} already holds this image; nothing written"))
    lines.append(("err", f"image {result.image_id}"))
    if result.dest is not None and not to_stdout:
        lines.append(("out", result.dest))
        if result.output.type == "oci":
            lines.append(
                (
                    "err",
                    f"an OCI archive: `podman load -i {result.dest}` or `skopeo copy "
                    f"oci-archive:{result.dest} ...` take it; `docker load` wants -o type=docker",
                )
            )
    return lines


def _check_mode(check: str | None, context: Path | None) -> tuple[str | None, Path, bool]:
    """--check's settings, the context, and whether only to check. A bare `--check` means
    check only; click then reads the next word as its value, so a value that is no setting
    (`error`, `skip=...`, `error=...`) is the context itself: `pybuild --check .` works."""
    if check is not None and check != CHECK_ONLY and context is None:
        if check.lower() != "error" and "=" not in check:
            context, check = Path(check), CHECK_ONLY
    if context is None:
        run(lambda: _refuse("missing the build context: pybuild [OPTIONS] CONTEXT"))
    assert context is not None
    if check == CHECK_ONLY:
        return None, context, True
    return check, context, False


def _dockerfile_argument(path: Path | None) -> tuple[Path | None, str | None]:
    """`-f -`: the Dockerfile comes from stdin (named <stdin> in messages), as with docker
    build; any other path is read by the build."""
    if path is None or str(path) != "-":
        return path, None
    data = sys.stdin.buffer.read()
    try:
        return Path("<stdin>"), data.decode("utf-8")
    except UnicodeDecodeError as error:
        message = f"-f -: the Dockerfile on stdin is not UTF-8 text (byte {error.start})"
    run(lambda: _refuse(message))
    raise AssertionError("run() exits on a refusal")


@main.command()
@click.argument("context", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "-f",
    "--file",
    "dockerfile",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The Dockerfile (default: CONTEXT/Dockerfile); - reads it from stdin.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "html"]),
    default="text",
    show_default=True,
    help="text for a terminal, json for tools, html for a browser.",
)
@click.option(
    "-o",
    "--output",
    "report",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the explanation to this file instead of stdout.",
)
@click.option("--image", metavar="PATH|type=...", help="Also write the image, as build's -o.")
@click.option(
    "--why",
    is_flag=True,
    help="Say why the image differs from the last build of this context and Dockerfile: "
    "the build args, base images, times and files that moved, and the first line they changed.",
)
@click.option(
    "--against",
    type=click.Path(exists=True, path_type=Path),
    metavar="IMAGE",
    help="Say how the image differs from IMAGE (an archive or layout), line by line.",
)
@click.option("-t", "--tag", "tags", multiple=True, help="Name and tag for the image.")
@click.option("--build-arg", "build_args", multiple=True, metavar="KEY[=VALUE]")
@click.option("--target", help="Explain this stage's image instead of the last one.")
@click.option(
    "--pull",
    type=click.Choice(["missing", "always", "never"]),
    default="missing",
    show_default=True,
    help="Base images, as build's --pull (always: see whether a tag moved, for --why).",
)
@click.option("--platform", help="Target platform os/arch[/variant].")
@click.option(
    "--build-context",
    "build_contexts",
    multiple=True,
    metavar="NAME=docker-archive:PATH|oci-archive:PATH|oci-layout:DIR",
)
def explain(
    context: Path,
    dockerfile: Path | None,
    fmt: str,
    *,
    report: Path | None,
    image: str | None,
    why: bool,
    against: Path | None,
    tags: tuple[str, ...],
    build_args: tuple[str, ...],
    target: str | None,
    pull: str,
    platform: str | None,
    build_contexts: tuple[str, ...],
) -> None:
    """Show what each instruction of the Dockerfile in CONTEXT produces: layers, files,
    config changes, history, digests. Builds without writing an archive unless --image."""
    dockerfile, text = _dockerfile_argument(dockerfile)
    options = api.BuildOptions(
        context=context,
        dockerfile=dockerfile,
        dockerfile_text=text,
        tags=tags,
        output=run(lambda: parse_output(image)),
        registry=RegistryAccess(pull=pull),
        build_args=build_args,
        target=target,
        platform=platform,
        build_contexts=build_contexts,
    )
    document, result = run(
        lambda: api.explain(options, stdout=sys.stdout.buffer, why=why, against=against)
    )
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    from .reports.explain import render_text

    if fmt == "text" and (why or against is not None):  # the question asked, then the rest
        from .reports import why as whys

        parts = []
        if why:
            found = document["why"]
            parts.append(
                whys.render_text(found)
                if found is not None
                else "why: no earlier build of this context and Dockerfile is recorded "
                "(every build with a cache directory records itself)\n"
            )
        if against is not None:
            parts.append(whys.render_against(document["against"]))
        parts.append("\n" + render_text(document, colour=report is None and sys.stdout.isatty()))
        text = "".join(parts)
    elif fmt == "json":
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    elif fmt == "html":
        from .reports.html import render_html

        text = render_html(document)
    else:
        text = render_text(document, colour=report is None and sys.stdout.isatty())
    if report is None:
        click.echo(text, nl=False)
    else:
        run(lambda: report.write_text(text, encoding="utf-8"))
        click.echo(str(report), err=True)


@main.command()
@click.argument("archive", type=click.Path(path_type=Path))
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option("--layer", type=int, help="Show only this layer (1 is the lowest).")
@click.option("--platform", help="Of an archive of several platforms, the image to show.")
@click.option("--sbom", is_flag=True, help="Print the image's attached SBOM (JSON) instead.")
@click.option(
    "--provenance", is_flag=True, help="Print the image's attached provenance (JSON) instead."
)
def inspect(
    archive: Path,
    fmt: str,
    layer: int | None,
    *,
    platform: str | None,
    sbom: bool,
    provenance: bool,
) -> None:
    """Show what an image archive holds (docker-archive, OCI archive or OCI layout directory):
    layers with their files, whiteouts, config and history; for several platforms, the index
    too; the attestations attached. No daemon needed."""
    from .oci.platform import parse_platform
    from .reports.inspect import attached_predicate, read_image
    from .reports.inspect import render_text as render

    chosen = run(lambda: parse_platform(platform)) if platform else None
    if sbom and provenance:
        run(lambda: _refuse("inspect prints one attestation: --sbom or --provenance, not both"))
    if sbom or provenance:
        kind = "sbom" if sbom else "provenance"
        predicate = run(lambda: attached_predicate(archive, kind, chosen))
        click.echo(json.dumps(predicate, indent=2, ensure_ascii=False))
        return
    document = run(lambda: read_image(archive, chosen))
    if fmt == "json":
        if layer is not None:
            document["layers"] = [item for item in document["layers"] if item["number"] == layer]
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        click.echo(run(lambda: render(document, layer)), nl=False)


@main.command()
@click.argument("names", nargs=-1, metavar="[TARGET|GROUP]...")
@click.option(
    "-f",
    "--file",
    "files",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The bake file (default: docker-bake.hcl, pybuild-bake.hcl or compose.yaml here); "
    "may repeat.",
)
@click.option(
    "--print", "show", is_flag=True, help="Print the resolved plan as JSON; build nothing."
)
@click.option("--push", is_flag=True, help="Push every target to its tags.")
@click.option(
    "--shard", metavar="K/N", help="Build only the Kth of N shares of the (target, platform) pairs."
)
@click.option("--jobs", type=int, default=2, show_default=True, help="Targets built at once.")
@click.option(
    "--join",
    is_flag=True,
    help="After every --shard pushed: join each tag's per-platform images into its index.",
)
@CACHE_DIR
@click.option("--no-cache", is_flag=True, help="Use no layer cache.")
@click.option(
    "--progress",
    type=click.Choice(PROGRESS_MODES),
    default="quiet",
    show_default=True,
    help="How builds report (quiet: notes only; builds run side by side).",
)
def bake(
    names: tuple[str, ...],
    files: tuple[Path, ...],
    *,
    show: bool,
    push: bool,
    shard: str | None,
    jobs: int,
    join: bool,
    cache_dir: Path | None,
    no_cache: bool,
    progress: str,
) -> None:
    """Build many images from one file, as `docker buildx bake` does: targets with context,
    dockerfile, args, tags, platforms, labels, output and caches, `inherits`, groups,
    variables (the environment overrides defaults), functions and `matrix`; compose files'
    build sections too. --shard K/N spreads the (target, platform) pairs over N machines."""
    from .bake import plan as planning
    from .bake import run as running

    plan = run(lambda: planning.read_plan(planning.find_file(list(files))))
    selected = run(lambda: plan.select(list(names)))
    pairs = plan.pairs(selected)
    share = run(lambda: planning.shard(pairs, shard)) if shard else pairs
    if show:
        click.echo(json.dumps(plan.printed(selected, share), indent=2))
        return
    if join:
        reporter = make_progress(progress)
        for tag, sources in running.joins(plan.targets, selected):
            joining = partial(
                api.create_index, tag, sources, access=RegistryAccess(), reporter=reporter
            )
            digest = run(joining)
            click.echo(f"{tag}@{digest}")
        return
    base = api.BuildOptions(
        context=Path("."),
        **({"cache_dir": None} if no_cache else {"cache_dir": cache_dir} if cache_dir else {}),
    )
    reporter = make_progress(progress)
    results = run(
        lambda: running.bake(
            plan.targets,
            share,
            base=base,
            push=push,
            sharded=shard is not None,
            jobs=jobs,
            reporter=reporter,
        )
    )
    for result in results:
        where = " ".join(result.names) if push else result.dest or ""
        click.echo(f"{result.target}\t{result.image_id}\t{where}")
    if shard and push:
        click.echo("when every shard is done, join the platforms (pybuild bake --join):", err=True)
        for tag, sources in running.joins(plan.targets, sorted({name for name, _ in share})):
            click.echo(f"  pybuild index create -t {tag} {' '.join(sources)}", err=True)


@main.command("prune")
@click.option(
    "--keep-storage", metavar="SIZE", help="Delete until the cache holds at most SIZE (10GB)."
)
@click.option(
    "--filter",
    "filters",
    multiple=True,
    metavar="until=DURATION",
    help="Delete what was not used for DURATION (24h, 7d), as docker builder prune.",
)
@CACHE_DIR
def prune_command(
    keep_storage: str | None, filters: tuple[str, ...], cache_dir: Path | None
) -> None:
    """Shrink the layer cache and blob store, least recently used first; with no option,
    empty it. Safe while builds run: what was used in the last minute stays, and a build
    that finds a blob gone builds its layer again. PYBUILD_CACHE_MAX=SIZE caps the cache
    after every build."""
    from .filestat import default_cache_dir

    unknown = [item for item in filters if not item.startswith("until=")]
    if unknown:
        run(lambda: _refuse(f"--filter {unknown[0]}: pybuild knows until=DURATION"))
    until = filters[-1].removeprefix("until=") if filters else None
    where = cache_dir or Path(default_cache_dir())
    done = run(lambda: api.prune(where, keep_storage=keep_storage, until=until))
    click.echo(
        f"removed {done.removed} files, {done.freed / 1e6:.1f} MB; {where} holds "
        f"{done.kept / 1e6:.1f} MB"
    )


@main.command()
@click.argument("first", metavar="A")
@click.argument("second", metavar="B")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option("--platform", help="Of archives of several platforms, the images to compare.")
def diff(first: str, second: str, fmt: str, *, platform: str | None) -> None:
    """Show how image B differs from image A (archives, OCI layout directories, or
    references pulled from their registries): config fields, history, and the files added,
    removed or changed in each layer and in the whole file system (content compared by
    digest). Exit 0 either way, as `git diff` does."""
    from .oci.platform import parse_platform
    from .reports.diff import diff_images, read_image_facts, render_text

    chosen = run(lambda: parse_platform(platform)) if platform else None
    document = diff_images(
        run(lambda: read_image_facts(first, chosen)),
        run(lambda: read_image_facts(second, chosen)),
    )
    if fmt == "json":
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        click.echo(render_text(document), nl=False)


@main.command()
@click.argument("server", required=False)
@click.option("-u", "--username", required=True, help="The registry user.")
@click.option("-p", "--password", help="The password or token (else asked for, unechoed).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--insecure", is_flag=True, help="Plain HTTP to a registry off loopback.")
def login(
    server: str | None, username: str, password: str | None, *, password_stdin: bool, insecure: bool
) -> None:
    """Log in to a registry (Docker Hub when SERVER is left out) and keep the login where docker
    login would: the configured credential helper, else $DOCKER_CONFIG/config.json."""
    if password_stdin:
        password = sys.stdin.read().rstrip("\r\n")
    elif password is None:
        password = click.prompt("Password", hide_input=True)
    secret = password
    where = run(lambda: api.login(server, username, secret, insecure=insecure))
    click.echo(f"Login Succeeded (kept in {where})")


@main.group()
def index() -> None:
    """Image indexes (several platforms under one name)."""


@index.command("create")
@click.option("-t", "--tag", "target", required=True, help="Where the index goes: REG/REPO:TAG.")
@click.option("--insecure", is_flag=True, help="Plain HTTP to a registry off loopback.")
@click.argument("sources", nargs=-1, required=True)
def index_create(target: str, sources: tuple[str, ...], *, insecure: bool) -> None:
    """Join images already pushed (one per platform, or indexes) into one image index at
    TARGET, as `docker buildx imagetools create` does; blobs are mounted or copied there."""
    access = RegistryAccess(insecure=insecure)
    reporter = make_progress("plain")
    digest = run(lambda: api.create_index(target, sources, access=access, reporter=reporter))
    click.echo(f"{target}@{digest}")


@main.command()
@click.argument("server", required=False)
def logout(server: str | None) -> None:
    """Forget the login for a registry (Docker Hub when SERVER is left out)."""
    host, removed = run(lambda: api.logout(server))
    click.echo(f"Removed login credentials for {host}" if removed else f"Not logged in to {host}")


@main.command()
@click.argument("dockerfile", default="Dockerfile", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "buildkit"]),
    default="text",
    show_default=True,
    help="text for people, json for tools, buildkit for BuildKit's AST dump.",
)
def parse(dockerfile: Path, fmt: str) -> None:
    """Parse DOCKERFILE and print its instructions (nothing is built)."""
    click.echo(run(lambda: api.describe(dockerfile, fmt)), nl=False)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _refuse(message: str) -> None:
    from .errors import UsageError

    raise UsageError(message)


def run(action):
    """Run `action`; turn every user error into one message on stderr and exit code 1.
    SIGTERM is handled like Ctrl-C, so both leave no partial output behind."""
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return action()
    except PybuildError as error:
        click.echo(f"error: {error.render()}", err=True)
    except OSError as error:
        where = f" {error.filename}:" if error.filename else ""
        click.echo(f"error:{where} {error.strerror or error}", err=True)
    except KeyboardInterrupt:
        from .outputs.files import PLACED

        if PLACED:
            done = ", ".join(str(path) for path in PLACED)
            click.echo(f"interrupted; {done} was already written complete", err=True)
        else:
            click.echo("interrupted; no output written", err=True)
        sys.exit(130)
    sys.exit(1)
