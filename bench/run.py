"""Benchmark pybuild against the floor and its peers, all measured in the same run.

    python bench/run.py [--contexts small,mixed,big] [--work DIR] [--skip docker,buildah]

Contexts (generated once under --work, default /tmp/pybuild-bench):
  small  20,000 files of 1-4 KiB
  mixed  ~500 MB in 2,000 files, half random bytes, half text
  big    one 4 GiB file of random bytes

For each context and for uncompressed and gzip output it measures, wall time and peak RSS:
  floor    tar -cf - CONTEXT | tee out.tar | sha256sum   (read once, write once, hash once)
  pybuild  cold (empty cache), warm (the same command again: answered from the stat of its
           inputs; median of 5 runs), cached (the layer cache alone: another output file,
           so the build runs) and 4 platforms (cold, an OCI index of four platforms whose
           layer is the same: its `cold` ratio is what a multi-platform build costs more) and
           --sbom --provenance (cold: what attestations cost)
  python   `python -c pass` (median of 5): the interpreter's own start, which no warm run beats
  buildah  buildah bud + buildah push docker-archive: (uncompressed) / oci-archive: (gzip)
  docker   DOCKER_BUILDKIT=0 docker build + docker save (uncompressed only; needs DOCKER_HOST)
and prints a Markdown table with ratios to the floor, to buildah and to pybuild cold. Nothing is asserted:
the numbers depend on the machine; the ratios are what to compare.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TIME = "/usr/bin/time"
WARM_RUNS = (
    5  # runs of the sub-second commands (warm rebuild, interpreter start); the median counts
)


def generate(work: Path, name: str) -> Path:
    context = work / name
    if (context / "Dockerfile").exists():
        return context
    shutil.rmtree(context, ignore_errors=True)
    (context / "data").mkdir(parents=True)
    rng = random.Random(1)
    if name == "small":
        for i in range(20_000):
            folder = context / "data" / f"d{i % 200}"
            folder.mkdir(exist_ok=True)
            (folder / f"f{i}.txt").write_bytes(b"x" * rng.randint(1024, 4096))
    elif name == "mixed":
        sizes = [1_000, 20_000, 100_000, 250_000, 1_000_000]
        total, i = 0, 0
        while total < 500_000_000 and i < 2_000:
            folder = context / "data" / f"d{i % 50}"
            folder.mkdir(exist_ok=True)
            size = sizes[i % len(sizes)]
            data = os.urandom(size) if i % 2 else (b"line of text %d\n" % i) * (size // 16)
            (folder / f"f{i}.bin").write_bytes(data)
            total, i = total + len(data), i + 1
    elif name == "big":
        with open(context / "data" / "big.bin", "wb") as out:
            for _ in range(4 * 1024 // 64):
                out.write(os.urandom(64 << 20))
    else:
        raise SystemExit(f"unknown context {name}")
    (context / "Dockerfile").write_text("FROM scratch\nCOPY data /data\n")
    return context


def measure(
    command: str, env: dict[str, str] | None = None, repeat: int = 1
) -> tuple[float, float | None]:
    """Wall seconds and peak RSS (MiB) of a shell command (RSS of its top process); with
    `repeat`, the median run of that many (for commands short enough to be noisy)."""
    if repeat > 1:
        runs = sorted(measure(command, env) for _ in range(repeat))
        return runs[len(runs) // 2]
    with tempfile.NamedTemporaryFile("r") as report:
        start = time.perf_counter()
        result = subprocess.run(
            [TIME, "-f", "%M", "-o", report.name, "sh", "-c", command],
            env={**os.environ, **(env or {})},
            capture_output=True,
        )
        wall = time.perf_counter() - start
        if result.returncode != 0:
            raise SystemExit(f"failed: {command}\n{result.stderr.decode()[-2000:]}")
        lines = [line for line in report.read().splitlines() if line.strip().isdigit()]
    return wall, (int(lines[-1]) / 1024 if lines else None)


def drop_caches() -> None:
    """Cold page cache when allowed (root), so every tool starts from the same state."""
    subprocess.run(["sync"])
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError:
        pass


def run(contexts: list[str], work: Path, skip: set[str]) -> list[dict]:
    rows = []
    pybuild = f"{sys.executable} -m pybuild"
    out = work / "out"
    out.mkdir(exist_ok=True)
    for name in contexts:
        context = generate(work, name)
        size = sum(p.stat().st_size for p in context.rglob("*") if p.is_file())
        for compression in ("uncompressed", "gzip"):
            results: dict[str, tuple[float, float | None]] = {}
            target = out / "image.tar"
            drop_caches()
            if compression == "uncompressed":
                results["floor"] = measure(f"tar -cf - -C {context} . | tee {target} | sha256sum")
            else:
                results["floor"] = measure(
                    f"tar -cf - -C {context} . | gzip -1 | tee {target} | sha256sum"
                )
            cache = work / "cache"
            shutil.rmtree(cache, ignore_errors=True)
            output = f"type=oci,dest={target}" if compression == "gzip" else str(target)
            drop_caches()
            results["pybuild cold"] = measure(
                f"{pybuild} -q --cache-dir {cache} -t bench:1 -o {output} {context}"
            )
            results["pybuild warm"] = measure(
                f"{pybuild} -q --cache-dir {cache} -t bench:1 -o {output} {context}",
                repeat=WARM_RUNS,
            )
            other = out / "other.tar"
            other_output = f"type=oci,dest={other}" if compression == "gzip" else str(other)
            results["pybuild cached"] = measure(
                f"rm -f {other} && {pybuild} -q --cache-dir {cache} -t bench:1 -o {other_output} {context}"
            )
            other.unlink(missing_ok=True)
            # Four platforms of the same files: the layer is built once and shared, so this
            # should cost little more than one platform (its ratio in the `cold` column).
            shutil.rmtree(cache, ignore_errors=True)
            drop_caches()
            results["pybuild 4 platforms"] = measure(
                f"{pybuild} -q --cache-dir {cache} -t bench:1 --platform "
                f"linux/amd64,linux/arm64,linux/arm/v7,linux/ppc64le "
                f"-o type=oci,dest={other},compression={compression} {context}"
            )
            other.unlink(missing_ok=True)
            # SBOM and provenance: every file read again for its sha256 and sha1, the context
            # hashed once more; its ratio to `cold` is what attestations cost.
            shutil.rmtree(cache, ignore_errors=True)
            drop_caches()
            results["pybuild --sbom --provenance"] = measure(
                f"{pybuild} -q --cache-dir {cache} -t bench:1 --sbom --provenance "
                f"-o type=oci,dest={other},compression={compression} {context}"
            )
            other.unlink(missing_ok=True)
            results["python"] = measure(f"{sys.executable} -c pass", repeat=WARM_RUNS)
            if "buildah" not in skip and shutil.which("buildah"):
                storage = work / "buildah"
                shutil.rmtree(storage, ignore_errors=True)
                base = f"buildah --root {storage} --runroot {storage}/run --storage-driver vfs"
                push = (
                    f"docker-archive:{target}:bench:1"
                    if compression == "uncompressed"
                    else f"oci-archive:{target}:bench:1"
                )
                drop_caches()
                results["buildah cold"] = measure(
                    f"{base} bud --isolation chroot -q -t bench:1 {context} >/dev/null && "
                    f"rm -f {target} && {base} push -q bench:1 {push} >/dev/null"
                )
                results["buildah warm"] = measure(
                    f"{base} bud --isolation chroot -q --layers -t bench:1 {context} >/dev/null && "
                    f"rm -f {target} && {base} push -q bench:1 {push} >/dev/null"
                )
                subprocess.run(f"{base} rmi -a -f >/dev/null 2>&1; rm -rf {storage}", shell=True)
            if (
                "docker" not in skip
                and compression == "uncompressed"
                and shutil.which("docker")
                and subprocess.run(["docker", "version"], capture_output=True).returncode == 0
            ):
                env = {"DOCKER_BUILDKIT": "0"}
                drop_caches()
                results["docker cold"] = measure(
                    f"docker build -q --no-cache -t bench:1 {context} >/dev/null && "
                    f"docker save bench:1 -o {target}",
                    env,
                )
                results["docker warm"] = measure(
                    f"docker build -q -t bench:1 {context} >/dev/null && docker save bench:1 -o {target}",
                    env,
                )
                subprocess.run(
                    "docker rmi -f bench:1 >/dev/null 2>&1; docker builder prune -f >/dev/null 2>&1",
                    shell=True,
                )
            floor = results["floor"][0]
            buildah = results.get("buildah cold", (None,))[0]
            cold = results["pybuild cold"][0]
            for tool, (wall, rss) in results.items():
                rows.append(
                    {
                        "context": f"{name} ({size / 1e6:.0f} MB)",
                        "output": compression,
                        "tool": tool,
                        "wall": wall,
                        "floor": wall / floor,
                        "buildah": wall / buildah if buildah else None,
                        "cold": wall / cold,
                        "rss": rss,
                    }
                )
            target.unlink(missing_ok=True)
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        "| context | output | tool | wall (s) | × floor | × buildah cold | × pybuild cold | peak RSS (MiB) |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        buildah = f"{row['buildah']:.2f}" if row["buildah"] else "-"
        rss = (
            f"{row['rss']:.0f}"
            if row["rss"] is not None and not row["tool"].startswith(("floor", "docker"))
            else "-"
        )
        lines.append(
            f"| {row['context']} | {row['output']} | {row['tool']} | {row['wall']:.2f} | "
            f"{row['floor']:.2f} | {buildah} | {row['cold']:.3f} | {rss} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contexts", default="small,mixed,big")
    parser.add_argument("--work", type=Path, default=Path("/tmp/pybuild-bench"))
    parser.add_argument("--skip", default="", help="comma-separated: docker, buildah")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    rows = run(args.contexts.split(","), args.work, set(filter(None, args.skip.split(","))))
    print(table(rows))


if __name__ == "__main__":
    main()
