"""Building a bake plan: each target of the share is one pybuild build (all its platforms of
the share at once: one image, or an index of several), independent targets `--jobs` at a
time, all sharing one layer cache and blob store.

With `--shard K/N` a target's platforms may land on different machines, so each image is
pushed under its own per-platform tag (`TAG-linux-amd64`) and a last step joins them with
`pybuild index create -t TAG TAG-linux-amd64 TAG-linux-arm64` (`joins` lists those commands).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .. import api
from ..errors import UsageError
from ..events import QUIET, Reporter
from ..oci.reference import parse_reference
from ..oci.registry import RegistryAccess
from ..outputs.spec import parse_output

UNSUPPORTED = ("attest", "secret", "ssh")  # accepted by the reader, refused when building


@dataclass(frozen=True)
class BakeResult:
    target: str
    platforms: tuple[str, ...]
    image_id: str
    names: tuple[str, ...]
    dest: str | None


def platform_tag(tag: str, platform: str) -> str:
    """`REG/REPO:TAG` for one platform of a sharded bake: `REG/REPO:TAG-linux-arm64-v8`."""
    ref = parse_reference(tag)
    return f"{ref.domain}/{ref.path}:{ref.tag}-{platform.replace('/', '-')}"


def options_for(
    attributes: dict[str, Any],
    platforms: list[str],
    *,
    base: api.BuildOptions,
    push: bool,
    sharded: bool,
) -> api.BuildOptions:
    """One target's build, as `pybuild build` would be told it."""
    context = Path(attributes["context"])
    dockerfile = Path(attributes["dockerfile"])
    tags = tuple(attributes.get("tags", []))
    if sharded and push:
        tags = tuple(platform_tag(tag, platform) for tag in tags for platform in platforms)
    unsupported = [key for key in UNSUPPORTED if attributes.get(key)]
    if unsupported:
        raise UsageError(f"bake: {', '.join(unsupported)}: not supported by pybuild yet")
    outputs = attributes.get("output") or []
    if len(outputs) > 1:
        raise UsageError(f"bake: output {outputs}: pybuild writes one output per target")
    output = (
        parse_output(None, push=True) if push else parse_output(outputs[0] if outputs else None)
    )
    access = base.registry  # each build closes its connections when done: one each
    pull = "always" if attributes.get("pull") else access.pull
    return replace(
        base,
        registry=RegistryAccess(access.creds, access.insecure, access.mirrors, pull),
        context=context,
        dockerfile=dockerfile if dockerfile.is_absolute() else context / dockerfile,
        tags=tags,
        output=output,
        platform=",".join(platforms) or None,
        build_args=tuple(f"{k}={v}" for k, v in attributes.get("args", {}).items()),
        labels=tuple(f"{k}={v}" for k, v in attributes.get("labels", {}).items()),
        target=attributes.get("target"),
        cache_from=tuple(attributes.get("cache-from", [])),
        cache_to=tuple(attributes.get("cache-to", [])),
        build_contexts=tuple(f"{k}={v}" for k, v in (attributes.get("contexts") or {}).items()),
        annotations=tuple(f"{k}={v}" for k, v in attributes.get("annotations", {}).items()),
        cache_dir=None if attributes.get("no-cache") else base.cache_dir,
    )


def bake(
    plan_targets: dict[str, dict[str, Any]],
    share: list[tuple[str, str]],
    *,
    base: api.BuildOptions,
    push: bool,
    sharded: bool,
    jobs: int = 2,
    reporter: Reporter = QUIET,
) -> list[BakeResult]:
    """Build every target of `share` (its platforms in the share), `jobs` at a time."""
    builds: dict[tuple[str, str], list[str]] = {}  # (target, platform or "") -> platforms
    for name, platform in share:
        # A sharded push builds each platform apart: each goes under its own tag to be joined.
        key = (name, platform if sharded and push else "")
        builds.setdefault(key, [])
        if platform:
            builds[key].append(platform)

    def one(key: tuple[str, str]) -> BakeResult:
        name, platforms = key[0], builds[key]
        options = options_for(plan_targets[name], platforms, base=base, push=push, sharded=sharded)
        result = api.build(options, reporter=reporter)
        reporter.note(f"{name}: {result.image_id} {' '.join(result.names) or result.dest or ''}")
        return BakeResult(name, tuple(platforms), result.image_id, result.names, result.dest)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(one, builds))


def joins(
    plan_targets: dict[str, dict[str, Any]], names: list[str]
) -> list[tuple[str, tuple[str, ...]]]:
    """What joins a sharded bake's per-platform images: (tag, its per-platform tags)."""
    found = []
    for name in names:
        platforms = plan_targets[name].get("platforms") or []
        for tag in plan_targets[name].get("tags", []):
            if platforms:
                found.append((tag, tuple(platform_tag(tag, p) for p in platforms)))
    return found
