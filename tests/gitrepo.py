"""git for the tests that make checkouts: the user's and the system's config left out, a fixed
author, and a failure raised."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from conftest import require_tool


def git(directory: Path, *args: str) -> str:
    environment = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }
    done = subprocess.run(
        [require_tool("git"), "-C", str(directory), *args],
        capture_output=True,
        text=True,
        env=environment,
        check=True,
    )
    return done.stdout.strip()
