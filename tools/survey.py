"""Try pybuild on real-world Dockerfiles, the way a person converting them would.

    python tools/survey.py DIR [--keep WORKDIR]

DIR holds one folder per project, each with a `Dockerfile` (and optionally a `SOURCE` line
saying where it came from). The Dockerfiles are not in this repository: they belong to their
projects; collect them yourself. For each one the survey builds the image with the pybuild on
PATH, on this machine only, filling in what a release pipeline would have at hand:

- each base image the Dockerfile names becomes a small local image (busybox, passwd, group and
  CA bundle, as distroless or alpine would give) through `--build-context NAME=oci-layout://`;
- each file the build context lacks (a prebuilt binary, dist/*.tar.gz) becomes a small stub;
- each stage that needs RUN gets `--build-context STAGE=DIR` with stubs for what is copied
  from it, as the error message advises (a stub /etc/passwd or /etc/group gains the users and
  groups the build then asks for, as the stage's adduser would have made them).

An optional `ARGS` file beside a Dockerfile holds extra pybuild arguments, one a line, for
what its pipeline passes (`--target`, `--build-arg`).

It repeats the build after each fill-in, as a person would after reading the error, and
reports per Dockerfile: built or not, what it had to provide, and the last error. A
Dockerfile that fails for any other reason is a finding: either a pybuild bug or a gap.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ATTEMPTS = 40
MISSING_BASE = re.compile(r":\d+:\d+: (\S+): it is not an earlier stage or a --build-context")
NO_USER = re.compile(r"no (user|group) named '([^']+)' in the image's /etc/(?:passwd|group)")
NO_MATCH = re.compile(r"no source files were specified: (\S+) matches nothing")
RUN_STAGE = re.compile(r"and pass its result with --build-context (\S+?)=DIR \(its files\)")
MISSING_IN_IMAGE = re.compile(r"file not found in (\S+): (\S+)")
MISSING_FILE = re.compile(
    r"file not found in build context(?: '([^']+)' \(.*?\)| or excluded by \.dockerignore): (\S+)"
)

PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
    "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
)
GROUP = "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n"


@dataclass
class Outcome:
    name: str
    built: bool = False
    bases: list[str] = field(default_factory=list)
    stages: list[str] = field(default_factory=list)
    stubs: list[str] = field(default_factory=list)
    error: str = ""


def make_base(work: Path, name: str = "base", extra: tuple[str, ...] = ()) -> Path:
    """A small image standing in for every base: busybox as /bin/sh, users and a CA bundle,
    plus stubs at `extra` paths (files a COPY --from=IMAGE takes from that image)."""
    root = work / f"{name}-context"
    shutil.rmtree(root, ignore_errors=True)
    for folder in ("bin", "etc/ssl/certs", "home/nonroot", "tmp"):
        (root / "rootfs" / folder).mkdir(parents=True, exist_ok=True)
    busybox = shutil.which("busybox") or "/bin/busybox"
    shutil.copy(busybox, root / "rootfs/bin/busybox")
    (root / "rootfs/bin/sh").symlink_to("busybox")
    (root / "rootfs/etc/passwd").write_text(PASSWD)
    (root / "rootfs/etc/group").write_text(GROUP)
    (root / "rootfs/etc/ssl/certs/ca-certificates.crt").write_text("# stub CA bundle\n")
    for path in extra:
        stub(root / "rootfs", path)
    (root / "Dockerfile").write_text("FROM scratch\nCOPY rootfs/ /\n")
    layout = work / f"{name}-layout"
    shutil.rmtree(layout, ignore_errors=True)
    subprocess.run(
        ["pybuild", "-q", "--no-cache", "-t", "base:1", "-o", f"type=oci-dir,dest={layout}", root],
        check=True,
        capture_output=True,
    )
    return layout


def stub(folder: Path, source: str) -> str:
    """A file where a COPY source (maybe a glob) expects one; returns its path."""
    name = re.sub(r"\[([^\]]*)\]", lambda m: m.group(1)[:1] or "x", source)
    name = name.replace("*", "x").replace("?", "x").lstrip("/")
    path = folder / (name or "stub")
    if source.endswith("/"):
        path.mkdir(parents=True, exist_ok=True)
        (path / "stub").write_text("stub\n")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\x7fELF stub for a prebuilt binary\n")
    return str(path.relative_to(folder))


def survey_one(project: Path, work: Path, base: Path) -> Outcome:
    outcome = Outcome(project.name)
    context = work / project.name / "context"
    shutil.copytree(project, context)
    stages: dict[str, Path] = {}
    contexts: dict[str, str] = {}
    image_files: dict[str, list[str]] = {}  # base stand-ins that need files of their own
    for _ in range(ATTEMPTS):
        command = ["pybuild", "--no-cache", "--progress", "quiet", "-t", "survey:1"]
        command += ["-o", str(work / project.name / "image.tar")]
        for name, value in contexts.items():
            command += ["--build-context", f"{name}={value}"]
        arguments = project / "ARGS"
        if arguments.is_file():
            command += [line for line in arguments.read_text().splitlines() if line.strip()]
        command.append(str(context))
        env = {**os.environ, "PYBUILD_REGISTRY_TIMEOUT": "2"}
        result = subprocess.run(command, capture_output=True, text=True, env=env)
        if result.returncode == 0:
            outcome.built = True
            return outcome
        said = result.stderr
        lines = said.splitlines()
        outcome.error = lines[0] if lines else f"exit {result.returncode}"
        if "Traceback" in said:
            outcome.error = "TRACEBACK: " + (lines[-1] if lines else "")
            return outcome
        if found := MISSING_BASE.search(said):
            name = found.group(1)
            if name in contexts:
                return outcome
            contexts[name] = f"oci-layout://{base}"
            outcome.bases.append(name)
            continue
        if found := NO_USER.search(said):
            kind, name = found.groups()
            files = [folder / "etc" / kind.replace("user", "passwd") for folder in stages.values()]
            files = [path for path in files if path.is_file() and name not in path.read_text()]
            if not files:
                return outcome
            entry = f"{name}:x:1000:1000::/home/{name}:/sbin/nologin\n"
            for path in files:
                path.write_text(
                    path.read_text() + (entry if kind == "user" else f"{name}:x:1000:\n")
                )
            outcome.stubs.append(f"{kind} {name}")
            continue
        if found := RUN_STAGE.search(said):
            name = found.group(1)
            if name in contexts:
                return outcome
            stages[name] = work / project.name / f"stage-{name}"
            stages[name].mkdir(parents=True)
            contexts[name] = str(stages[name])
            outcome.stages.append(name)
            continue
        found = MISSING_IN_IMAGE.search(said)
        if found and found.group(1) in outcome.bases:
            image, path = found.groups()
            wanted = image_files.setdefault(image, [])
            if path in wanted:
                return outcome
            wanted.append(path)
            label = re.sub(r"[^A-Za-z0-9]+", "-", image)
            layout = make_base(work / project.name, label, tuple(wanted))
            contexts[image] = f"oci-layout://{layout}"
            outcome.stubs.append(f"{image}:{path}")
            continue
        if found := MISSING_FILE.search(said) or NO_MATCH.search(said):
            named, source = found.groups() if found.re is MISSING_FILE else (None, found.group(1))
            folder = stages.get(named) if named else context
            if folder is None:
                return outcome
            made = stub(folder, source)
            label = f"{named}:{made}" if named else made
            if label in outcome.stubs:
                return outcome
            outcome.stubs.append(label)
            continue
        return outcome
    return outcome


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--keep", type=Path, help="work here and keep it (default: a temp dir)")
    parser.add_argument("--json", action="store_true", help="one JSON object per Dockerfile")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="pybuild-survey-"))
    work.mkdir(parents=True, exist_ok=True)
    base = make_base(work)
    projects = sorted(path.parent for path in args.folder.glob("*/Dockerfile"))
    outcomes = [survey_one(project, work, base) for project in projects]
    for outcome in outcomes:
        if args.json:
            print(json.dumps(outcome.__dict__))
            continue
        mark = "built " if outcome.built else "FAILED"
        provided = [f"base {b}" for b in outcome.bases] + [f"stage {s}" for s in outcome.stages]
        provided += [f"stub {s}" for s in outcome.stubs]
        print(f"{mark} {outcome.name}: {', '.join(provided) or 'nothing provided'}")
        if not outcome.built:
            print(f"       {outcome.error}")
    built = sum(outcome.built for outcome in outcomes)
    print(f"{built}/{len(outcomes)} built", file=sys.stderr)
    if not args.keep:
        shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
