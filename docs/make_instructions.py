"""Writes docs/instructions.md: for each instruction, a small example, the exact output of
`pybuild explain` for it, and what Docker does with it at run time.

    python docs/make_instructions.py          # rewrite docs/instructions.md
    python docs/make_instructions.py --check  # exit 1 if the file is not up to date (tests)
"""

from __future__ import annotations

import io
import sys
import tarfile
import tempfile
from pathlib import Path

from pybuild import api
from pybuild.reports.explain import render_text

HERE = Path(__file__).resolve().parent
TARGET = HERE / "instructions.md"


def _tar() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("site/index.html")
        data = b"<h1>hi</h1>\n"
        info.size, info.mode, info.mtime = len(data), 0o644, 0
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


EXAMPLES = [
    (
        "FROM",
        "FROM scratch\n",
        {},
        "The image starts from this base: `scratch` is empty (no files, no shell), so what runs must "
        "be a static program the image carries. `FROM stage` starts from an earlier stage's image.",
    ),
    (
        "COPY",
        "FROM scratch\nCOPY hello.txt /greeting/\n",
        {"hello.txt": b"hello\n"},
        "The files are in the container's file system: each layer is unpacked over the ones below it.",
    ),
    (
        "COPY heredoc",
        "FROM scratch\nARG name=world\nCOPY <<EOF /hello.txt\nHello ${name}!\nEOF\n",
        {},
        "As COPY: the file (named by the destination, or after the delimiter in a directory) is in the "
        "container's file system.",
    ),
    (
        "ADD",
        "FROM scratch\nADD site.tar /srv/\n",
        {"site.tar": _tar()},
        "As COPY; a local tar archive was unpacked at build time, so its files are there, not the archive.",
    ),
    (
        "ENV",
        'FROM scratch\nENV GREETING=hello TARGET="the world"\n',
        {},
        "The variables are in the environment of every process the container runs; "
        "`docker run -e KEY=value` overrides them.",
    ),
    (
        "ARG",
        "FROM scratch\nARG VERSION=1.0\nENV APP_VERSION=$VERSION\n",
        {},
        "Nothing: ARG exists only while building (`--build-arg` sets it). Here it reaches the image "
        "only because ENV copied it.",
    ),
    (
        "LABEL",
        'FROM scratch\nLABEL org.opencontainers.image.title=demo maintainer="Jane Doe"\n',
        {},
        "Nothing at run time: labels are metadata for `docker inspect` and filters such as "
        "`docker images --filter label=...`.",
    ),
    (
        "WORKDIR",
        "FROM scratch\nWORKDIR /app\n",
        {},
        "The container's process starts in this directory; `docker run -w DIR` overrides it.",
    ),
    (
        "USER",
        "FROM scratch\nUSER 1000:1000\n",
        {},
        "The process runs as this user (and group); `docker run -u` overrides it.",
    ),
    (
        "VOLUME",
        "FROM scratch\nVOLUME /data\n",
        {},
        "Each container gets an anonymous volume mounted at /data, unless `docker run -v` mounts "
        "something there; what the image had at that path seeds the new volume.",
    ),
    (
        "EXPOSE",
        "FROM scratch\nEXPOSE 8080 53/udp\n",
        {},
        "Documentation only: nothing is published unless `docker run -p` or `-P` (which publishes "
        "every exposed port on a random host port).",
    ),
    (
        "CMD",
        'FROM scratch\nCMD ["/hello", "--loud"]\n',
        {},
        "The default command: `docker run IMAGE` runs it; `docker run IMAGE other args` replaces it.",
    ),
    (
        "ENTRYPOINT",
        'FROM scratch\nENTRYPOINT ["/greet"]\nCMD ["world"]\n',
        {},
        "The executable every container runs; CMD (or `docker run IMAGE args`) supplies its arguments. "
        "`docker run --entrypoint` replaces it.",
    ),
    (
        "SHELL",
        'FROM scratch\nSHELL ["/bin/ash", "-c"]\nCMD echo hi\n',
        {},
        'Later shell forms run in this shell (here CMD became `/bin/ash -c "echo hi"`); the image '
        "must contain it.",
    ),
    (
        "HEALTHCHECK",
        'FROM scratch\nHEALTHCHECK --interval=30s --retries=3 CMD ["/check"]\n',
        {},
        "Docker runs the check in the container at that interval; after 3 failures in a row the "
        "container is `unhealthy` in `docker ps`.",
    ),
    (
        "STOPSIGNAL",
        "FROM scratch\nSTOPSIGNAL SIGINT\n",
        {},
        "`docker stop` sends this signal instead of SIGTERM (then SIGKILL after the timeout).",
    ),
    (
        "ONBUILD",
        "FROM scratch\nONBUILD COPY app /app\n",
        {},
        "Nothing when this image runs: the trigger runs in the build of any Dockerfile that uses "
        "this image in FROM.",
    ),
    (
        "MAINTAINER",
        "FROM scratch\nMAINTAINER Jane Doe <jane@example.com>\n",
        {},
        "Nothing: it sets the image's `author`. Deprecated; use a LABEL.",
    ),
    (
        "COPY --from (stages)",
        "FROM scratch AS build\nCOPY tool /out/tool\n\nFROM scratch\n"
        "COPY --from=build /out/tool /usr/local/bin/tool\n",
        {"tool": b"#!/bin/true\n"},
        "Only the last stage is the image: files of earlier stages are there only where COPY --from "
        "took them.",
    ),
]


def render() -> str:
    parts = [
        "# What each instruction produces\n",
        "Generated by `python docs/make_instructions.py` from real `pybuild explain` runs "
        "(a test checks it is up to date). Every example is built `FROM scratch` with the "
        "default settings, so all times are the epoch and the digests are reproducible.\n",
    ]
    for title, dockerfile, files, runtime in EXAMPLES:
        with tempfile.TemporaryDirectory() as directory:
            context = Path(directory)
            (context / "Dockerfile").write_text(dockerfile)
            for name, data in files.items():
                (context / name).write_bytes(data)
                (context / name).chmod(0o644)  # the reader's umask must not change the digests
            document, _ = api.explain(
                api.BuildOptions(
                    context=context,
                    dockerfile=context / "Dockerfile",
                    tags=("example:1",),
                    platform="linux/amd64",
                    source_date_epoch=None,
                    cache_dir=None,
                )
            )
        document["dockerfile"] = "Dockerfile"
        # The archive's anatomy and the time are the same story for every example: README
        # tells it once; here each instruction shows what it changes, and what runs.
        del document["archive"], document["time"]
        parts.append(
            f"## {title}\n\n```dockerfile\n{dockerfile}```\n\n`pybuild explain`:\n\n"
            f"```\n{render_text(document)}```\n\n**At run time:** {runtime}\n"
        )
    return "\n".join(parts)


def main() -> None:
    text = render()
    if "--check" in sys.argv:
        if not TARGET.exists() or TARGET.read_text() != text:
            print(f"{TARGET} is out of date: run python docs/make_instructions.py", file=sys.stderr)
            sys.exit(1)
        return
    TARGET.write_text(text)
    print(TARGET)


if __name__ == "__main__":
    main()
