"""Benchmark pybuild against the machine's floor and its peers, all measured in the same run.

    python bench/run.py [--cases mixed,small20k,...] [--runs 3] [--work DIR] [--skip docker,buildah]

Every case runs its commands alternately (floor, pybuild, peers, floor, pybuild, ...), warm page
cache, and keeps each command's best wall time of --runs and its highest peak RSS. It prints a
Markdown table of ratios to the floor, with issue 16's target for each case. Nothing is
asserted: the numbers depend on the machine; the ratios are what to compare.

Cases (contexts are generated once under --work, deterministic content):
  mixed      526 MB in 2,001 files (2,000 of 1 KB-400 KB, half text, half random, in 50 dirs,
             and one 256 MiB file); uncompressed docker archive, --no-cache.
             floor: tar -cf - FILES | tee OUT | openssl dgst -sha256
  small20k   20,000 files of 1-4 KiB in dirs of 500, the same way        (floor: the same)
  small200k  200,000 such files, the same way; peak RSS matters here     (floor: the same)
  big        one 5 GB file, the same way                                  (floor: the same)
  gzip       mixed, gzip level 1 (ISA-L)
             floor: tar | tee >(sha256sum) | pigz -1 | tee OUT | sha256sum
  zstd       mixed, zstd level 3; floor: the same with zstd -T0 -3
  rebuild    small20k with the layer cache: a rebuild after touching one file, against a cold
             build (empty cache) of the same context, which is the floor of this row
  push       the mixed image to a local registry (docker-registry on 127.0.0.1, started
             here), --no-cache; floor: skopeo copy of the same archive to another repository
  cache      a second machine (a fresh cache directory) pushing the mixed image with
             --cache-from the registry cache the first left; floor: that first, cold build
             with --cache-to (issue 18: no layer uploaded, several times faster)
Peers, for the build cases (mixed, small20k, small200k, big) when present:
  buildah    buildah bud + buildah push docker-archive: (vfs storage under --work)
  docker     DOCKER_BUILDKIT=0 docker build --no-cache + docker save (needs DOCKER_HOST)
  python     `python -c pass`: the interpreter's own start, which no run beats
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

TIME = "/usr/bin/time"
PYBUILD = f"{sys.executable} -m pybuild"
TARGETS = {  # issue 16: pybuild's wall time as a multiple of the floor's
    "mixed": 1.15,
    "small20k": 2.5,
    "small200k": 3.0,
    "big": 1.1,
    "gzip": 1.2,
    "zstd": 1.2,
    "rebuild": 0.2,
    "push": 1.0,
    "cache": 0.5,  # issue 18: a second machine with --cache-from, against the cold build
}
RSS_TARGETS = {"small200k": 64.0}  # MiB


# Contexts -------------------------------------------------------------------------------


def mixed(root: Path) -> None:
    rng = random.Random(1)
    for i in range(2000):
        folder = root / "data" / f"d{i % 50:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        size = rng.choice([1000, 10000, 100000, 400000])
        text = (b"lorem ipsum dolor sit amet %d\n" % i) * (size // 30)
        (folder / f"f{i}.bin").write_bytes(rng.randbytes(size) if i % 2 else text)
    block = rng.randbytes(1 << 20)
    with open(root / "big.bin", "wb") as out:
        for _ in range(256):
            out.write(block)
    (root / "Dockerfile").write_text(
        'FROM scratch\nCOPY data /data\nCOPY big.bin /big.bin\nCMD ["/x"]\n'
    )


def small(count: int):
    def make(root: Path) -> None:
        rng = random.Random(count)
        for i in range(count):
            folder = root / "files" / f"d{i // 500:04d}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"f{i}.txt").write_bytes(rng.randbytes(rng.randint(1024, 4096)))
        (root / "Dockerfile").write_text("FROM scratch\nCOPY files /files\n")

    return make


def big(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    block = random.Random(5).randbytes(64 << 20)
    with open(root / "big.bin", "wb") as out:
        for _ in range(5_000_000_000 // len(block)):
            out.write(block)
    (root / "Dockerfile").write_text("FROM scratch\nCOPY big.bin /big.bin\n")


CONTEXTS = {"mixed": mixed, "small20k": small(20_000), "small200k": small(200_000), "big": big}


def context(work: Path, name: str) -> Path:
    root = work / name
    if not (root / "Dockerfile").exists():
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        CONTEXTS[name](root)
    return root


# Measuring ------------------------------------------------------------------------------


@dataclass
class Timing:
    walls: list[float] = field(default_factory=list)
    rss: float = 0.0  # MiB, the highest of the runs (of the command's top process)

    @property
    def best(self) -> float:
        return min(self.walls)


def measure(command: str, timing: Timing, env: dict[str, str] | None = None) -> None:
    with tempfile.NamedTemporaryFile("r") as report:
        result = subprocess.run(
            [TIME, "-f", "%e %M", "-o", report.name, "bash", "-c", f"set -o pipefail; {command}"],
            env={**os.environ, **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        if result.returncode != 0:
            raise SystemExit(f"failed ({result.returncode}): {command}\n{result.stderr.decode()}")
        wall, rss = report.read().split()[-2:]
    timing.walls.append(float(wall))
    timing.rss = max(timing.rss, int(rss) / 1024)


def alternate(commands: dict[str, tuple[str, str]], runs: int) -> dict[str, Timing]:
    """Each command (a setup run untimed first, then the timed one) in turn, `runs` times."""
    timings = {name: Timing() for name in commands}
    for _ in range(runs):
        for name, (setup, command) in commands.items():
            if setup:
                subprocess.run(["bash", "-c", setup], check=True, stdout=subprocess.DEVNULL)
            measure(command, timings[name])
    return timings


def warm(root: Path) -> None:
    """Read every file once, so every command starts from the same warm page cache."""
    subprocess.run(f"tar -cf - -C {root} . | cat >/dev/null", shell=True, check=True)


def members(root: Path) -> str:
    return " ".join(sorted(os.listdir(root)))


# Peers ----------------------------------------------------------------------------------


def peers(root: Path, out: Path, work: Path, skip: set[str]) -> dict[str, tuple[str, str]]:
    found: dict[str, tuple[str, str]] = {}
    if "buildah" not in skip and shutil.which("buildah"):
        storage = work / "buildah"
        base = f"buildah --root {storage} --runroot {storage}/run --storage-driver vfs"
        found["buildah"] = (
            f"{base} rmi -a -f >/dev/null 2>&1; rm -f {out}",
            f"{base} bud --isolation chroot -q -t bench:1 {root} && "
            f"{base} push -q bench:1 docker-archive:{out}:bench:1",
        )
    if (
        "docker" not in skip
        and shutil.which("docker")
        and subprocess.run(["docker", "version"], capture_output=True).returncode == 0
    ):
        found["docker"] = (
            f"docker rmi -f bench:1 >/dev/null 2>&1; rm -f {out}",
            f"DOCKER_BUILDKIT=0 docker build -q --no-cache -t bench:1 {root} && "
            f"docker save bench:1 -o {out}",
        )
    return found


# Cases ----------------------------------------------------------------------------------


def build_case(name: str, work: Path, runs: int, skip: set[str]) -> dict[str, Timing]:
    root = context(work, "mixed" if name in ("gzip", "zstd") else name)
    out = work / "out.tar"
    warm(root)
    clear = f"rm -f {out}"
    tar = f"tar -cf - -C {root} {members(root)}"
    if name in ("gzip", "zstd"):
        squeeze = "pigz -1" if name == "gzip" else "zstd -q -T0 -3"
        option = "compression=gzip,compression-level=1" if name == "gzip" else "compression=zstd"
        return alternate(
            {
                "floor": (
                    clear,
                    f"{tar} | tee >(sha256sum >/dev/null) | {squeeze} | tee {out} | sha256sum",
                ),
                "pybuild": (
                    clear,
                    f"{PYBUILD} --no-cache -q -t bench:1 -o type=docker,dest={out},{option} {root}",
                ),
            },
            runs,
        )
    commands = {
        "floor": (clear, f"{tar} | tee {out} | openssl dgst -sha256"),
        "pybuild": (clear, f"{PYBUILD} --no-cache -q -t bench:1 -o {out} {root}"),
        **peers(root, out, work, skip),
        "python": ("", f"{sys.executable} -c pass"),
    }
    return alternate(commands, runs)


def rebuild_case(work: Path, runs: int) -> dict[str, Timing]:
    """A cold build (empty layer cache) against a rebuild after one file was touched."""
    root = context(work, "small20k")
    warm(root)
    out, cache = work / "out.tar", work / "cache"
    touched = root / "files" / "d0020" / "f10000.txt"
    build = f"{PYBUILD} -q --cache-dir {cache} -t bench:1 -o {out} {root}"
    return alternate(
        {
            "floor": (f"rm -rf {cache} {out}", build),  # a cold build is this row's floor
            "pybuild": (f"{build} && touch {touched}", build),
        },
        runs,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def registry(work: Path) -> Iterator[tuple[Path, int]]:
    """docker-registry on 127.0.0.1, its storage under `work` (emptied by the cases)."""
    storage, port = work / "registry", free_port()
    config = work / "registry.yml"
    config.write_text(
        f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {storage}\n"
        f"  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n"
    )
    server = subprocess.Popen(
        ["docker-registry", "serve", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield storage, port
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait()


def push_case(work: Path, runs: int) -> dict[str, Timing]:
    """pybuild --push against skopeo copy of the same image as an archive, to a registry
    started here whose storage is emptied before every run."""
    root = context(work, "mixed")
    warm(root)
    with registry(work) as (storage, port):
        archive = work / "push.tar"
        subprocess.run(
            f"{PYBUILD} --no-cache -q -t bench:1 -o {archive} {root}", shell=True, check=True
        )
        empty = f"rm -rf {storage}"  # a registry that holds none of the blobs yet
        return alternate(
            {
                "floor": (
                    empty,
                    f"skopeo copy -q --dest-tls-verify=false docker-archive:{archive} "
                    f"docker://127.0.0.1:{port}/skopeo/bench:1",
                ),
                "pybuild": (
                    empty,
                    f"{PYBUILD} --no-cache -q -t 127.0.0.1:{port}/pybuild/bench:1 --push {root}",
                ),
            },
            runs,
        )


def cache_case(work: Path, runs: int) -> dict[str, Timing]:
    """Issue 18's second machine: a build of the mixed context with --cache-from the registry
    cache a first machine left (a fresh cache directory, pushing to a new repository), against
    that first machine's cold build with --cache-to (also a fresh cache directory)."""
    root = context(work, "mixed")
    warm(root)
    with registry(work) as (storage, port):
        reg = f"127.0.0.1:{port}"
        machines = work / "machines"
        fresh = f"rm -rf {machines}; mkdir -p {machines}"
        cold = (
            f"{PYBUILD} -q --cache-dir {machines}/one --cache-to type=registry,ref={reg}/c/cache:1 "
            f"-t {reg}/c/app:1 --push {root}"
        )
        warm_build = (
            f"{PYBUILD} -q --cache-dir {machines}/two --cache-from type=registry,ref={reg}/c/cache:1 "
            f"-t {reg}/c/app-$RANDOM:1 --push {root}"
        )
        subprocess.run(["bash", "-c", f"{fresh}; {cold}"], check=True, stdout=subprocess.DEVNULL)
        return alternate(
            {
                "floor": (f"rm -rf {storage}; {fresh}", cold),
                "pybuild": (f"rm -rf {storage}; {fresh}; {cold}", warm_build),
            },
            runs,
        )


def table(results: dict[str, dict[str, Timing]]) -> str:
    lines = [
        "| case | tool | best wall (s) | × floor | target | peak RSS (MiB) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for case, timings in results.items():
        floor = timings["floor"].best
        for tool, timing in timings.items():
            target = ""
            if tool == "pybuild":
                met = timing.best <= TARGETS[case] * floor
                limit = RSS_TARGETS.get(case)
                if limit is not None:
                    met = met and timing.rss <= limit
                rss_part = f", ≤ {limit:.0f} MiB" if limit is not None else ""
                target = f"≤ {TARGETS[case]}×{rss_part} {'met' if met else 'NOT MET'}"
            lines.append(
                f"| {case} | {tool} | {timing.best:.2f} | {timing.best / floor:.2f} | {target} "
                f"| {timing.rss:.0f} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", default=",".join(TARGETS))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path("/tmp/pybuild-bench"))
    parser.add_argument("--skip", default="", help="comma-separated: docker, buildah")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    skip = set(filter(None, args.skip.split(",")))
    results = {}
    for case in args.cases.split(","):
        if case == "rebuild":
            results[case] = rebuild_case(args.work, args.runs)
        elif case == "push":
            results[case] = push_case(args.work, args.runs)
        elif case == "cache":
            results[case] = cache_case(args.work, args.runs)
        elif case in TARGETS:
            results[case] = build_case(case, args.work, args.runs, skip)
        else:
            raise SystemExit(f"unknown case {case}: expected some of {', '.join(TARGETS)}")
        print("\n".join(table({case: results[case]}).splitlines()[2:]), file=sys.stderr)
    print(table(results))


if __name__ == "__main__":
    main()
