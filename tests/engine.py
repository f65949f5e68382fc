"""A real Docker Engine for tests: found through DOCKER_HOST, or started here (vfs storage, no
iptables, no bridge, everything under a temporary directory), with the helpers tests need."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

# Config fields that a Dockerfile can set; compared between Docker's image and pybuild's.
CONFIG_FIELDS = (
    "Env",
    "Cmd",
    "Entrypoint",
    "WorkingDir",
    "ExposedPorts",
    "User",
    "Volumes",
    "Labels",
    "StopSignal",
    "Healthcheck",
    "Shell",
    "OnBuild",
)
# What `docker create` adds to every container's file system (not part of either image).
RUNTIME_PATHS = {
    ".dockerenv",
    "dev",
    "dev/console",
    "dev/pts",
    "dev/shm",
    "etc",
    "etc/hostname",
    "etc/hosts",
    "etc/mtab",
    "etc/resolv.conf",
    "proc",
    "sys",
}


class EngineUnavailable(Exception):
    pass


@dataclass
class Engine:
    env: dict[str, str]
    started: subprocess.Popen | None = None
    workdir: str | None = None
    images: set[str] = field(default_factory=set)
    # Every image ID the engine held when the session began: at the end, untagged images
    # that appeared since (classic builds' other stages, tags moved to a newer build) go too.
    before: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.before = self._image_ids()

    def _image_ids(self, *filters: str) -> set[str]:
        listed = self.docker("images", "-aq", "--no-trunc", *filters, check=False)
        return set(listed.stdout.decode().split())

    def docker(
        self,
        *args: str,
        input: bytes | None = None,
        check: bool = True,
        timeout: float = 300,
        extra_env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess:
        env = {**self.env, **(extra_env or {})}
        result = subprocess.run(
            ["docker", *args], input=input, capture_output=True, env=env, timeout=timeout
        )
        if check and result.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} failed: {result.stderr.decode()}")
        return result

    def load(self, archive: Path) -> str:
        out = self.docker("load", "-i", str(archive)).stdout.decode()
        for line in out.splitlines():
            if line.startswith("Loaded image: "):
                self.images.add(line.removeprefix("Loaded image: "))
        return out

    def classic_build(
        self, context: Path, dockerfile: Path, tag: str, *flags: str
    ) -> subprocess.CompletedProcess:
        """`docker build` with the classic builder, the reference for semantics."""
        self.images.add(tag)
        return self.docker(
            "build",
            "-q",
            "-f",
            str(dockerfile),
            "-t",
            tag,
            *flags,
            str(context),
            check=False,
            extra_env={"DOCKER_BUILDKIT": "0"},
        )

    def run(self, image: str, *args: str) -> subprocess.CompletedProcess:
        return self.docker(
            "run", "--rm", "--network", "none", image, *args, check=False, timeout=60
        )

    def inspect(self, image: str) -> dict:
        return json.loads(self.docker("image", "inspect", image).stdout)[0]

    def config(self, image: str) -> dict:
        config = self.inspect(image)["Config"] or {}
        return {key: config.get(key) or None for key in CONFIG_FIELDS}

    def filesystem(self, image: str) -> dict[str, tuple]:
        """Path -> (type, mode, uid, gid, link target, sha256 of content) of the exported image."""
        container = self.docker("create", image, "/nothing").stdout.decode().strip()
        try:
            exported = self.docker("export", container).stdout
        finally:
            self.docker("rm", container, check=False)
        result = {}
        with tarfile.open(fileobj=io.BytesIO(exported)) as tar:
            for member in tar:
                name = member.name.rstrip("/")
                if name in RUNTIME_PATHS:
                    continue
                digest = ""
                if member.isfile():
                    digest = hashlib.sha256(tar.extractfile(member).read()).hexdigest()
                result[name] = (
                    member.type,
                    oct(member.mode),
                    member.uid,
                    member.gid,
                    member.linkname,
                    digest,
                )
        return result

    def cleanup(self) -> None:
        self.remove_images()
        self.stop()

    def untagged(self) -> set[str]:
        """IDs of the untagged images the engine holds now (dangling or intermediate)."""
        listed = self.docker(
            "images", "-a", "--no-trunc", "--format", "{{.Tag}} {{.ID}}", check=False
        ).stdout.decode()
        return {line.split()[1] for line in listed.splitlines() if line.startswith("<none> ")}

    def remove_images(self) -> None:
        """Remove the session's images: its tags, then the untagged images left behind."""
        if self.images:
            self.docker("rmi", "-f", *sorted(self.images), check=False)
        for _ in range(3):  # removing one untagged image can leave its parent untagged too
            left = sorted(self.untagged() - self.before)
            if not left:
                break
            self.docker("rmi", "-f", *left, check=False)

    def stop(self) -> None:
        if self.started is not None:
            self.started.terminate()
            try:
                self.started.wait(20)
            except subprocess.TimeoutExpired:
                self.started.kill()
            if self.workdir:
                subprocess.run(["umount", "-R", f"{self.workdir}/exec"], capture_output=True)
                shutil.rmtree(self.workdir, ignore_errors=True)


def _responds(env: dict[str, str]) -> bool:
    try:
        return (
            subprocess.run(
                ["docker", "version"], capture_output=True, env=env, timeout=20
            ).returncode
            == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


def find_or_start_engine() -> Engine:
    if shutil.which("docker") is None:
        raise EngineUnavailable("no docker client on PATH (apt-get install docker.io)")
    env = dict(os.environ)
    if _responds(env):
        return Engine(env)
    if shutil.which("dockerd") is None:
        raise EngineUnavailable(
            "no Docker Engine reachable and no dockerd to start (apt-get install docker.io)"
        )
    if os.geteuid() != 0:
        raise EngineUnavailable("no Docker Engine reachable, and starting dockerd needs root")
    workdir = tempfile.mkdtemp(prefix="pybuild-dockerd-")
    socket = f"unix://{workdir}/docker.sock"
    log = open(f"{workdir}/dockerd.log", "wb")
    process = subprocess.Popen(
        [
            "dockerd",
            "--storage-driver=vfs",
            "--iptables=false",
            "--bridge=none",
            f"--host={socket}",
            f"--data-root={workdir}/root",
            f"--exec-root={workdir}/exec",
            f"--pidfile={workdir}/docker.pid",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    env = {**env, "DOCKER_HOST": socket}
    for _ in range(60):
        if process.poll() is not None:
            break
        if _responds(env):
            return Engine(env, process, workdir)
        time.sleep(0.5)
    process.kill()
    tail = Path(f"{workdir}/dockerd.log").read_text(errors="replace")[-400:]
    raise EngineUnavailable(f"dockerd did not start: {tail}")
