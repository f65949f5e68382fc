"""Base images: from a local archive or layout (--build-context) and from a registry; layers
reused as they are, config inherited as Docker does, files usable by COPY --from and --chown."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SAMPLES, require_tool
from images import docker_archive_with_nulls, synthetic_archive
from pybuild import api
from pybuild.errors import InstructionError
from pybuild.oci.validate import validate_archive
from pybuild.outputs.spec import parse_output


def base_archive(tmp_path: Path, output: str = "type=docker") -> Path:
    dest = tmp_path / ("base-dir" if "oci-dir" in output else "base.tar")
    api.build(
        api.BuildOptions(
            context=SAMPLES / "greet",
            tags=("base:1",),
            output=parse_output(f"{output},dest={dest}"),
        )
    )
    return dest


def child(
    tmp_path: Path, dockerfile: str, contexts: tuple[str, ...], output: str | None = None, **extra
) -> tuple[api.BuildResult, Path]:
    context = tmp_path / "child"
    context.mkdir(exist_ok=True)
    (context / "a.txt").write_text("added\n")
    (context / "Dockerfile").write_text(dockerfile)
    out = tmp_path / "child.tar"
    result = api.build(
        api.BuildOptions(
            context=context,
            tags=("child:1",),
            output=parse_output(output or str(out)),
            build_contexts=contexts,
            **extra,
        )
    )
    return result, out


def test_local_base_layers_are_reused_and_config_inherited(tmp_path):
    base = base_archive(tmp_path)
    base_config = validate_archive(base).config
    result, out = child(
        tmp_path,
        'FROM base\nCOPY a.txt /extra/a.txt\nCMD ["Base"]\n',
        (f"base=docker-archive:{base}",),
    )
    config = validate_archive(out).config
    assert config["rootfs"]["diff_ids"][:2] == base_config["rootfs"]["diff_ids"]
    assert len(config["rootfs"]["diff_ids"]) == 3
    assert config["config"]["Entrypoint"] == ["/opt/greet/bin/greet"]
    assert config["config"]["WorkingDir"] == "/opt/greet" and config["config"]["Cmd"] == ["Base"]
    assert [h["created_by"] for h in config["history"]][:5] == [
        h["created_by"] for h in base_config["history"]
    ]


def test_entrypoint_resets_an_inherited_cmd(tmp_path):
    base = base_archive(tmp_path)
    _, out = child(tmp_path, 'FROM base\nENTRYPOINT ["/other"]\n', (f"base=docker-archive:{base}",))
    assert "Cmd" not in validate_archive(out).config["config"]


def test_gzip_layout_base_into_uncompressed_output(tmp_path):
    base = base_archive(tmp_path, "type=oci-dir")  # gzip layers
    result, out = child(tmp_path, "FROM base\nCOPY a.txt /a\n", (f"base=oci-layout:{base}",))
    contents = validate_archive(out)  # every layer uncompresses to its diff_id
    assert all(
        layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar"
        for layer in contents.oci_manifest["layers"]
    )


def test_chown_names_and_copy_from_resolve_against_the_base(tmp_path):
    base_context = tmp_path / "basectx"
    base_context.mkdir()
    (base_context / "passwd").write_text("app:x:1234:4321::/:/bin/sh\n")
    (base_context / "tool").write_text("tool\n")
    (base_context / "Dockerfile").write_text(
        "FROM scratch\nCOPY passwd /etc/passwd\nCOPY tool /usr/bin/tool\n"
    )
    api.build(
        api.BuildOptions(
            context=base_context, tags=("b:1",), output=parse_output(str(tmp_path / "b.tar"))
        )
    )
    _, out = child(
        tmp_path,
        "FROM b\nCOPY --chown=app a.txt /home/a.txt\n"
        "FROM scratch\nCOPY --from=b /usr/bin/tool /tool\n",
        (f"b=docker-archive:{tmp_path / 'b.tar'}",),
        target=None,
    )
    members = [m for ms in validate_archive(out).layer_members.values() for m in ms]
    assert [m.name for m in members] == ["tool"]
    _, out = child(
        tmp_path,
        "FROM b\nCOPY --chown=app a.txt /home/a.txt\n",
        (f"b=docker-archive:{tmp_path / 'b.tar'}",),
    )
    owned = [
        m
        for ms in validate_archive(out).layer_members.values()
        for m in ms
        if m.name == "home/a.txt"
    ]
    assert (owned[0].uid, owned[0].gid) == (1234, 4321)


def test_whiteouts_in_a_base_remove_files(tmp_path):
    archive = tmp_path / "w.tar"
    synthetic_archive(archive)
    with pytest.raises(InstructionError, match="file not found in w"):
        child(
            tmp_path,
            "FROM scratch\nCOPY --from=w /etc/old.conf /x\n",
            (f"w=docker-archive:{archive}",),
        )
    _, out = child(
        tmp_path, "FROM scratch\nCOPY --from=w /bin/tool /tool\n", (f"w=docker-archive:{archive}",)
    )
    assert validate_archive(out).layer_members


def test_bad_build_context_is_a_clear_error(tmp_path):
    with pytest.raises(InstructionError, match="loading its --build-context failed"):
        child(tmp_path, "FROM base\n", (f"base=docker-archive:{tmp_path / 'missing.tar'}",))


@pytest.mark.engine
def test_docker_save_of_a_docker_built_image_as_base_runs(engine, tmp_path):
    context = tmp_path / "dctx"
    context.mkdir()
    (context / "greet").write_bytes((SAMPLES / "greet" / "greet").read_bytes())
    (context / "greet").chmod(0o755)
    (context / "Dockerfile").write_text(
        'FROM scratch\nCOPY greet /greet\nENTRYPOINT ["/greet"]\nCMD ["docker"]\n'
    )
    assert (
        engine.classic_build(context, context / "Dockerfile", "pybuild-base-docker:1").returncode
        == 0
    )
    saved = tmp_path / "saved.tar"
    engine.docker("save", "pybuild-base-docker:1", "-o", str(saved))
    result, out = child(
        tmp_path,
        'FROM saved\nCOPY a.txt /a.txt\nCMD ["pybuild"]\n',
        (f"saved=docker-archive:{saved}",),
        output=None,
    )
    engine.load(out)
    assert engine.run("child:1").stdout == b"Hello, pybuild!\n"
    engine.images.add("child:1")


@pytest.mark.engine
def test_from_a_registry_builds_pushes_pulls_and_runs(engine, open_registry, tmp_path):
    base_ref = f"{open_registry}/demo/base:1"
    pushed = subprocess.run(
        [sys.executable, "-m", "pybuild", "--push", "-t", base_ref, str(SAMPLES / "greet")],
        capture_output=True,
        text=True,
    )
    assert pushed.returncode == 0, pushed.stderr
    digest = (
        pushed.stderr.strip().splitlines()[-2].rsplit("@", 1)[1] if "@" in pushed.stderr else None
    )
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "a.txt").write_text("from the child\n")
    (context / "Dockerfile").write_text(
        f'FROM {base_ref}\nCOPY a.txt /data/a.txt\nCMD ["registry"]\n'
    )
    child_ref = f"{open_registry}/demo/child:1"
    built = subprocess.run(
        [sys.executable, "-m", "pybuild", "--push", "-t", child_ref, str(context)],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    engine.docker("pull", child_ref)
    engine.images.add(child_ref)
    assert engine.run(child_ref).stdout == b"Hello, registry!\n"
    files = engine.filesystem(child_ref)
    assert "opt/greet/bin/greet" in files and "data/a.txt" in files  # both images' layers
    if digest:
        pinned = context / "Dockerfile.pinned"
        pinned.write_text(f"FROM {open_registry}/demo/base@{digest}\nCOPY a.txt /b\n")
        again = subprocess.run(
            [
                sys.executable,
                "-m",
                "pybuild",
                "-f",
                str(pinned),
                "-o",
                str(tmp_path / "pinned.tar"),
                str(context),
            ],
            capture_output=True,
            text=True,
        )
        assert again.returncode == 0, again.stderr


def test_a_base_config_with_docker_nulls_takes_every_metadata_instruction(tmp_path):
    """Docker writes null for unset fields; each instruction that adds to one must cope."""
    base = tmp_path / "nulls.tar"
    docker_archive_with_nulls(base)
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(
        'FROM base\nVOLUME /v\nLABEL a=b\nEXPOSE 80\nENV K=v\nONBUILD COPY x y\nENTRYPOINT ["/e"]\n'
    )
    out = tmp_path / "out.tar"
    api.build(
        api.BuildOptions(
            context=context,
            tags=("child:1",),
            output=parse_output(str(out)),
            build_contexts=(f"base=docker-archive:{base}",),
        )
    )
    config = validate_archive(out).config
    assert config["config"] == {
        "Volumes": {"/v": {}},
        "Labels": {"a": "b"},
        "ExposedPorts": {"80/tcp": {}},
        "Env": ["K=v"],
        "OnBuild": ["COPY x y"],
        "Entrypoint": ["/e"],
    }
    assert [item["created_by"] for item in config["history"]][0] == "ADD motd"


def test_the_platform_is_chosen_from_a_local_index_of_platforms(tmp_path):
    """A --build-context layout that holds an index of platforms gives FROM the image for the
    build's --platform (or FROM --platform), not merely the first."""
    layout = tmp_path / "multi"
    manifests = []
    for arch in ("amd64", "arm64"):
        context = tmp_path / arch
        context.mkdir()
        (context / arch).write_text(arch)
        (context / "Dockerfile").write_text(f"FROM scratch\nCOPY {arch} /{arch}\n")
        one = tmp_path / f"{arch}-layout"
        api.build(
            api.BuildOptions(
                context=context,
                tags=("m:1",),
                platform=f"linux/{arch}",
                output=parse_output(f"type=oci-dir,dest={one}"),
            )
        )
        entry = json.loads((one / "index.json").read_text())["manifests"][0]
        entry = {k: v for k, v in entry.items() if k != "annotations"}
        manifests.append({**entry, "platform": {"os": "linux", "architecture": arch}})
        shutil.copytree(one / "blobs", layout / "blobs", dirs_exist_ok=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": manifests}))
    child = tmp_path / "child"
    child.mkdir()
    for text, platform in (
        ("FROM base\n", "linux/arm64"),
        ("FROM --platform=linux/arm64 base\n", None),
    ):
        (child / "Dockerfile").write_text(text)
        out = tmp_path / "child.tar"
        api.build(
            api.BuildOptions(
                context=child,
                tags=("c:1",),
                platform=platform,
                output=parse_output(str(out)),
                build_contexts=(f"base=oci-layout:{layout}",),
            )
        )
        contents = validate_archive(out)
        assert contents.config["architecture"] == "arm64"
        (members,) = contents.layer_members.values()
        assert [m.name for m in members] == ["arm64"]


def test_a_second_build_from_the_same_base_asks_for_no_blob(
    open_registry, tmp_path, registry_requests
):
    """Pulled blobs live in the blob store beside the layer cache, verified on use: the second
    build asks the registry for manifests only; a stored blob that went bad is fetched again."""
    ref = f"{open_registry}/demo/base-again:1"
    pushed = subprocess.run(
        [sys.executable, "-m", "pybuild", "--push", "-t", ref, str(SAMPLES / "greet")],
        capture_output=True,
        text=True,
    )
    assert pushed.returncode == 0, pushed.stderr
    requested = registry_requests
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {ref}\nCOPY extra.txt /extra.txt\n")
    cache = tmp_path / "cache"

    def build_once(text: str) -> list[str]:
        (context / "extra.txt").write_text(text)
        requested.clear()
        api.build(
            api.BuildOptions(
                context=context,
                tags=("again:1",),
                cache_dir=cache,
                output=parse_output(str(tmp_path / "out.tar")),
            )
        )
        return [line for line in requested if "/blobs/" in line]

    first = build_once("one")
    assert len(first) == 3  # config and two layers
    assert build_once("two") == []
    stored = next((cache / "blobs" / "sha256").iterdir())
    stored.write_bytes(b"bad")
    assert len(build_once("three")) == 1  # the bad one is not used, but fetched again
    assert validate_archive(tmp_path / "out.tar").config["config"]["Entrypoint"]


def test_blobs_redirected_to_a_storage_host_arrive_without_the_registry_login(
    redirecting_registry, tmp_path
):
    """FROM an image on a registry that answers blob GETs with a redirect to another host:
    the blobs come from that host, which never sees the registry's Authorization."""
    address, storage = redirecting_registry
    ref = f"{address}/private/redirected:1"
    pushed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pybuild",
            "--push",
            "--creds",
            "alice:s3cret",
            "-t",
            ref,
            str(SAMPLES / "greet"),
        ],
        capture_output=True,
        text=True,
    )
    assert pushed.returncode == 0, pushed.stderr
    docker_config = tmp_path / "docker"
    docker_config.mkdir()
    login = base64.b64encode(b"alice:s3cret").decode()
    (docker_config / "config.json").write_text(json.dumps({"auths": {address: {"auth": login}}}))
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(f'FROM {ref}\nCMD ["redirected"]\n')
    storage.requests.clear()
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pybuild",
            "--no-cache",
            "-t",
            "r:1",
            "-o",
            str(tmp_path / "r.tar"),
            str(context),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "DOCKER_CONFIG": str(docker_config)},
    )
    assert built.returncode == 0, built.stderr
    blobs = [path for path, _ in storage.requests if "/blobs/" in path]
    assert len(blobs) == 3  # the config and two layers came from the storage host
    assert not any(authorized for _, authorized in storage.requests)
    assert validate_archive(tmp_path / "r.tar").config["config"]["Cmd"] == ["redirected"]


def greet_archive(tmp_path: Path) -> Path:
    """The greet sample as a docker-archive, greet:1, for other tools to copy."""
    source = tmp_path / "greet.tar"
    api.build(
        api.BuildOptions(
            context=SAMPLES / "greet", tags=("greet:1",), output=parse_output(str(source))
        )
    )
    return source


@pytest.mark.parametrize("transport", ["docker-archive", "oci-archive", "oci"])
def test_archives_skopeo_writes_are_bases(tmp_path, transport):
    """skopeo copy to each of its local forms gives a base pybuild builds on."""
    skopeo = require_tool("skopeo")
    source = greet_archive(tmp_path)
    copied = tmp_path / ("copied" if transport == "oci" else "copied.tar")
    target = f"{transport}:{copied}" + (":greet:1" if transport == "docker-archive" else ":1")
    subprocess.run(
        [skopeo, "copy", "-q", f"docker-archive:{source}", target], check=True, capture_output=True
    )
    kind = {"docker-archive": "docker-archive", "oci-archive": "oci-archive", "oci": "oci-layout"}[
        transport
    ]
    result, out = child(tmp_path, 'FROM base\nCMD ["copied"]\n', (f"base={kind}:{copied}",))
    config = validate_archive(out).config
    assert config["config"]["Entrypoint"] == ["/opt/greet/bin/greet"] and config["config"][
        "Cmd"
    ] == ["copied"]


@pytest.mark.parametrize("form", ["docker-archive", "oci-archive"])
def test_archives_podman_saves_are_bases(tmp_path, form):
    podman = require_tool("podman")
    source = tmp_path / "greet.tar"
    api.build(
        api.BuildOptions(
            context=SAMPLES / "greet",
            tags=("pybuild-podman-base:1",),
            output=parse_output(str(source)),
        )
    )
    subprocess.run([podman, "load", "-i", str(source)], check=True, capture_output=True)
    saved = tmp_path / "saved.tar"
    try:
        subprocess.run(
            [podman, "save", "--format", form, "-o", str(saved), "pybuild-podman-base:1"],
            check=True,
            capture_output=True,
        )
    finally:
        subprocess.run([podman, "rmi", "pybuild-podman-base:1"], capture_output=True)
    result, out = child(tmp_path, 'FROM base\nCMD ["saved"]\n', (f"base={form}:{saved}",))
    assert validate_archive(out).config["config"]["Cmd"] == ["saved"]


@pytest.mark.parametrize("destination", ["docker-archive", "oci-archive", "oci"])
def test_images_buildah_pushes_are_bases(tmp_path, destination):
    """buildah push to each of its local forms gives a base pybuild builds on."""
    buildah = require_tool("buildah")
    source = greet_archive(tmp_path)
    name = "localhost/pybuild-buildah-base:1"
    subprocess.run(
        [buildah, "pull", "-q", f"docker-archive:{source}"], check=True, capture_output=True
    )
    subprocess.run([buildah, "tag", "greet:1", name], check=True, capture_output=True)
    pushed = tmp_path / ("pushed" if destination == "oci" else "pushed.tar")
    target = f"{destination}:{pushed}" + (":greet:1" if destination == "docker-archive" else "")
    try:
        subprocess.run([buildah, "push", "-q", name, target], check=True, capture_output=True)
    finally:
        subprocess.run([buildah, "rmi", "-f", name, "greet:1"], capture_output=True)
    kind = {"oci": "oci-layout"}.get(destination, destination)
    result, out = child(tmp_path, 'FROM base\nCMD ["pushed"]\n', (f"base={kind}:{pushed}",))
    config = validate_archive(out).config["config"]
    assert config["Entrypoint"] == ["/opt/greet/bin/greet"] and config["Cmd"] == ["pushed"]


def docker25_save(layout: Path, tag: str, into: Path) -> None:
    """An archive of the shape Docker 25 and later `docker save` writes (REFERENCE.md): an OCI
    layout (index.json annotated with both image-name keys) plus a manifest.json and a
    repositories file pointing into blobs/, every entry with mtime 0."""
    import io
    import tarfile

    index = json.loads((layout / "index.json").read_text())
    top = index["manifests"][0]
    manifest = json.loads((layout / "blobs" / "sha256" / top["digest"][7:]).read_text())
    repository, _, version = tag.rpartition(":")
    top["annotations"] = {
        "io.containerd.image.name": f"docker.io/library/{tag}",
        "org.opencontainers.image.ref.name": version,
    }
    layers = [f"blobs/sha256/{layer['digest'][7:]}" for layer in manifest["layers"]]
    members = {
        "oci-layout": b'{"imageLayoutVersion": "1.0.0"}',
        "index.json": json.dumps({"schemaVersion": 2, **index}).encode(),
        "manifest.json": json.dumps(
            [
                {
                    "Config": f"blobs/sha256/{manifest['config']['digest'][7:]}",
                    "RepoTags": [tag],
                    "Layers": layers,
                    "LayerSources": {
                        layer["digest"]: {
                            key: layer[key] for key in ("mediaType", "size", "digest")
                        }
                        for layer in manifest["layers"]
                    },
                }
            ]
        ).encode(),
        "repositories": json.dumps({repository: {version: layers[-1][13:]}}).encode(),
    }
    for blob in sorted((layout / "blobs" / "sha256").iterdir()):
        members[f"blobs/sha256/{blob.name}"] = blob.read_bytes()
    with tarfile.open(into, "w") as tar:
        for directory in ("blobs/", "blobs/sha256/"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
            tar.addfile(info)
        for member, data in members.items():
            info = tarfile.TarInfo(member)
            info.size, info.mtime = len(data), 0
            tar.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize("kind", ["docker-archive", "oci-archive"])
def test_the_docker_25_save_layout_is_a_base(tmp_path, kind):
    layout = tmp_path / "layout"
    api.build(
        api.BuildOptions(
            context=SAMPLES / "greet",
            tags=("greet:1",),
            output=parse_output(f"type=oci-dir,dest={layout},compression=uncompressed"),
        )
    )
    saved = tmp_path / "saved.tar"
    docker25_save(layout, "greet:1", saved)
    result, out = child(tmp_path, 'FROM base\nCMD ["saved"]\n', (f"base={kind}:{saved}",))
    config = validate_archive(out).config["config"]
    assert config["Entrypoint"] == ["/opt/greet/bin/greet"] and config["Cmd"] == ["saved"]


def test_pull_missing_always_never(open_registry, tmp_path, registry_requests):
    """--pull=missing (the default) builds from a stored image without asking the registry;
    always asks for the tag and sees it moved; never works offline or says what is missing."""
    from pybuild.events import Reporter
    from pybuild.oci.registry import RegistryAccess

    ref = f"{open_registry}/demo/pull-policy:1"

    def push(sample: str) -> None:
        api.build(
            api.BuildOptions(
                context=SAMPLES / sample,
                tags=(ref,),
                cache_dir=None,
                output=parse_output(None, push=True),
            )
        )

    requested = registry_requests

    class Notes(Reporter):
        def __init__(self):
            self.lines: list[str] = []

        def note(self, text: str) -> None:
            self.lines.append(text)

    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {ref}\n")
    cache = tmp_path / "cache"

    def build(policy: str, cache_dir: Path | None = cache) -> tuple[list[str], list[str], dict]:
        requested.clear()
        notes = Notes()
        api.build(
            api.BuildOptions(
                context=context,
                tags=("p:1",),
                cache_dir=cache_dir,
                registry=RegistryAccess(pull=policy),
                output=parse_output(str(tmp_path / "out.tar")),
            ),
            reporter=notes,
        )
        return list(requested), notes.lines, validate_archive(tmp_path / "out.tar").config

    push("hello")
    asked, notes, config = build("missing")
    assert asked and notes == [f"{ref}: {notes[0].rsplit(': ', 1)[1]}"]  # the digest it resolved to
    first = notes[0].rsplit(": ", 1)[1]
    asked, notes, _ = build("missing")
    assert asked == [] and notes == [f"{ref}: {first} (stored)"]
    push("greet")  # the tag moves
    assert build("missing")[1] == [f"{ref}: {first} (stored)"]
    asked, notes, config = build("always")
    assert any("/manifests/1" in line for line in asked) and notes[0] != f"{ref}: {first}"
    assert config["config"]["Entrypoint"] == ["/opt/greet/bin/greet"]
    asked, _, _ = build("never")
    assert asked == []
    with pytest.raises(InstructionError, match="was never pulled, and --pull=never forbids asking"):
        build("never", cache_dir=tmp_path / "empty-cache")


def test_a_bases_triggers_are_checked_as_onbuild_lines_are(tmp_path):
    """Triggers stored by another tool are checked when they run: FROM or two instructions in
    one trigger are errors at the child's FROM, never a recursion or a silent extra stage."""
    from images import docker_archive_with_nulls

    for triggers, message in (
        (["FROM scratch"], "FROM isn't allowed as an ONBUILD trigger"),
        (["ENV A=1\nENV B=2"], "exactly one instruction"),
    ):
        base = tmp_path / "base.tar"
        docker_archive_with_nulls(base, OnBuild=triggers)
        with pytest.raises(InstructionError, match=message):
            child(tmp_path, "FROM base\nLABEL c=d\n", (f"base=docker-archive:{base}",))


def test_platform_variants_match_as_containerds_do():
    """arm64 is arm64/v8; a bare arm is arm/v7, which runs v6 and v5 images but not v8; an
    index lacking the platform is an error naming what it offers."""
    from pybuild.oci.model import Descriptor, Index, InvalidDocument
    from pybuild.oci.platform import Platform, parse_platform

    assert parse_platform("linux/arm64/v8").normalized() == Platform("linux", "arm64")
    assert parse_platform("linux/arm").normalized() == Platform("linux", "arm", "v7")
    arm = parse_platform("linux/arm")
    assert arm.matches(Platform("linux", "arm", "v6")) and arm.matches(Platform("linux", "arm"))
    assert not arm.matches(Platform("linux", "arm", "v8"))
    assert Platform("linux", "arm64").matches(Platform("linux", "arm64", "v8"))
    index = Index((Descriptor("m", "sha256:" + "a" * 64, 1, platform=Platform("linux", "amd64")),))
    with pytest.raises(
        InvalidDocument, match="has no image for linux/arm64 .it offers linux/amd64"
    ):
        index.for_platform(parse_platform("linux/arm64"), "base")
