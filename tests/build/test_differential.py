"""Docker's classic builder and pybuild build the same Dockerfiles; config and file system must
agree. Each tests/differential/*.Dockerfile runs against the same generated context."""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path

import pytest

from pybuild import api
from pybuild.outputs.spec import parse_output

# PYBUILD_DIFFERENTIAL_EXTRA names a folder of more *.Dockerfile cases kept outside the project.
EXTRA = os.environ.get("PYBUILD_DIFFERENTIAL_EXTRA")
CASES = sorted((Path(__file__).parent / "differential").glob("*.Dockerfile")) + (
    sorted(Path(EXTRA).glob("*.Dockerfile")) if EXTRA else []
)


def case_arguments(dockerfile: Path) -> list[str]:
    """Extra build flags for both builders, from a `# build-flags: ...` line in the case."""
    for line in dockerfile.read_text().splitlines():
        if line.startswith("# build-flags:"):
            return shlex.split(line.partition(":")[2])
    return []


def make_context(root: Path) -> Path:
    """Files with varied modes, nested and empty directories, symlinks, odd names."""
    root.mkdir()
    files = {
        "a.txt": "a\n",
        "b.txt": "bb\n",
        "c.txt": "ccc\n",
        "with space.txt": "space\n",
        "ünï.txt": "unicode\n",
        "src/s1.txt": "s1\n",
        "src/s2.txt": "s2\n",
        "src/sub/t.txt": "t\n",
        "src/sub/deeper/u.bin": "\x00\x01binary",
        "other/o.txt": "o\n",
        "other/sub/t.txt": "replaced\n",
        "data/x": "x\n",
        "script.sh": "#!/bin/sh\necho hi\n",
        "etc/passwd": "root:x:0:0:root:/root:/bin/sh\napp:x:1001:1002:App:/home/app:/bin/sh\n",
        "etc/group": "root:x:0:\nstaff:x:50:\napp:x:1002:\n",
    }
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    (root / "empty").mkdir()
    (root / "script.sh").chmod(0o755)
    (root / "src" / "s2.txt").chmod(0o600)
    (root / "src" / "sub").chmod(0o750)
    (root / "other" / "o.txt").chmod(0o640)
    os.symlink("s1.txt", root / "src" / "link")
    os.symlink("../a.txt", root / "src" / "uplink")
    os.symlink("a.txt", root / "alink")
    os.symlink("/data/x", root / "abslink")
    os.symlink("src", root / "dirlink")
    make_archives(root)
    os.link(root / "src" / "s1.txt", root / "src" / "sub" / "hardlink-to-s1")
    return root


def make_archives(root: Path) -> None:
    """Tars with odd owners and modes, a symlink and a hard link, in every compression ADD
    knows; a gzip of a plain file and a .tar.gz that is not an archive, which ADD copies."""
    import gzip
    import io
    import tarfile

    import zstandard

    def member(tar, name, data=None, mode=0o644, uid=0, gid=0, kind=tarfile.REGTYPE, link=""):
        info = tarfile.TarInfo(name)
        info.type, info.mode, info.uid, info.gid, info.linkname = kind, mode, uid, gid, link
        info.mtime = 1_600_000_000
        info.size = len(data) if data is not None else 0
        tar.addfile(info, io.BytesIO(data) if data is not None else None)

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        member(tar, "pkg", kind=tarfile.DIRTYPE, mode=0o750, uid=1000, gid=1000)
        member(tar, "pkg/bin/tool", b"#!/bin/sh\n", mode=0o755, uid=1000, gid=1000)
        member(tar, "pkg/etc/conf", b"key=value\n", mode=0o600, uid=33, gid=33)
        member(tar, "pkg/link", kind=tarfile.SYMTYPE, link="bin/tool")
        member(
            tar, "pkg/hard", kind=tarfile.LNKTYPE, link="pkg/etc/conf", mode=0o600, uid=33, gid=33
        )
        member(tar, "./top.txt", b"top\n")
    plain = buffer.getvalue()
    (root / "archives").mkdir()
    (root / "archives" / "plain.tar").write_bytes(plain)
    (root / "archives" / "pkg.tgz").write_bytes(gzip.compress(plain, mtime=0))
    import bz2
    import lzma

    (root / "archives" / "pkg.tar.bz2").write_bytes(bz2.compress(plain))
    (root / "archives" / "pkg.tar.xz").write_bytes(lzma.compress(plain))
    (root / "archives" / "pkg.tar.zst").write_bytes(zstandard.ZstdCompressor().compress(plain))
    (root / "archives" / "notes.txt.gz").write_bytes(gzip.compress(b"just text\n", mtime=0))
    (root / "archives" / "fake.tar.gz").write_text("not an archive at all\n")


@pytest.fixture(scope="module")
def context(tmp_path_factory) -> Path:
    return make_context(tmp_path_factory.mktemp("differential") / "context")


@pytest.mark.engine
@pytest.mark.parametrize("dockerfile", CASES, ids=[case.stem for case in CASES])
def test_pybuild_matches_docker_classic_builder(engine, context, tmp_path, dockerfile):
    docker_tag = f"pybuild-diff-docker:{dockerfile.stem}"
    ours_tag = f"pybuild-diff-ours:{dockerfile.stem}"
    ignore_file = dockerfile.with_suffix(".dockerignore")
    if ignore_file.exists():  # the classic builder reads only CONTEXT/.dockerignore
        context = Path(shutil.copytree(context, tmp_path / "context", symlinks=True))
        shutil.copy(ignore_file, context / ".dockerignore")
    flags = case_arguments(dockerfile)
    built = engine.classic_build(context, dockerfile, docker_tag, *flags)
    assert built.returncode == 0, built.stderr.decode()

    archive = tmp_path / "image.tar"
    options = dict(build_args=[], labels=[], target=None)
    for flag, value in zip(flags[::2], flags[1::2], strict=True):
        if flag == "--target":
            options["target"] = value
        else:
            options[flag.lstrip("-").replace("-", "_") + "s"].append(value)
    api.build(
        api.BuildOptions(
            context=context,
            dockerfile=dockerfile,
            tags=(ours_tag,),
            output=parse_output(str(archive)),
            build_args=tuple(options["build_args"]),
            labels=tuple(options["labels"]),
            target=options["target"],
        )
    )
    engine.load(archive)

    assert engine.config(ours_tag) == engine.config(docker_tag)
    theirs, ours = engine.inspect(docker_tag), engine.inspect(ours_tag)
    assert ours.get("Author") == theirs.get("Author")
    assert len(ours["RootFS"].get("Layers") or []) == len(theirs["RootFS"].get("Layers") or [])
    assert (ours["Os"], ours["Architecture"]) == (theirs["Os"], theirs["Architecture"])
    docker_files, our_files = engine.filesystem(docker_tag), engine.filesystem(ours_tag)
    assert sorted(our_files) == sorted(docker_files)
    assert our_files == docker_files


@pytest.mark.engine
def test_add_from_url_matches_docker(engine, context, tmp_path):
    """The daemon and pybuild download from the same server on 127.0.0.1."""
    import http.server
    import threading
    from functools import partial

    served = tmp_path / "served"
    served.mkdir()
    (served / "tool.bin").write_bytes(b"\x7fELF pretend\n")
    shutil.copy(context / "archives" / "pkg.tgz", served / "pkg.tgz")
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    dockerfile = tmp_path / "url.Dockerfile"
    dockerfile.write_text(
        f"FROM scratch\nADD {base}/tool.bin /bin/\nADD {base}/pkg.tgz /pkg.tgz\n"
        f"ADD {base}/tool.bin /renamed\n"
    )
    try:
        built = engine.classic_build(context, dockerfile, "pybuild-diff-docker:url")
        assert built.returncode == 0, built.stderr.decode()
        archive = tmp_path / "image.tar"
        api.build(
            api.BuildOptions(
                context=context,
                dockerfile=dockerfile,
                tags=("pybuild-diff-ours:url",),
                output=parse_output(str(archive)),
            )
        )
    finally:
        httpd.shutdown()
    engine.load(archive)
    assert engine.filesystem("pybuild-diff-ours:url") == engine.filesystem(
        "pybuild-diff-docker:url"
    )
