"""`--load`: hand an image archive to `docker load` (honouring DOCKER_HOST), or to
`podman load` where only podman is installed; what it says is reported as notes."""

from __future__ import annotations

import shutil
import subprocess
from typing import BinaryIO

from ..errors import UsageError
from ..events import Reporter


def load_archive(archive: BinaryIO, reporter: Reporter) -> None:
    tool = shutil.which("docker") and "docker" or shutil.which("podman") and "podman"
    if not tool:
        raise UsageError("--load needs docker or podman on PATH")
    result = subprocess.run([tool, "load"], stdin=archive, capture_output=True)
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip().splitlines()
        raise UsageError(f"{tool} load failed: {message[-1] if message else result.returncode}")
    for line in result.stdout.decode(errors="replace").splitlines():
        reporter.note(line)
