"""The git checkout a build context is, for provenance and `--git-labels`: where it comes from,
its revision, and whether the tree matches that revision.

Only a context that is the top of a checkout (`.git` inside it) counts: pybuild reads nothing
outside the context. git is asked with the repository's own command hooks turned off
(`core.fsmonitor` would run a program a checkout names), and credentials are taken out of the
remote's URL before it goes into an image."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

TIMEOUT = 30  # seconds for one git command: a huge or broken repository is given up on


@dataclass(frozen=True)
class Checkout:
    source: str  # the remote's URL (origin), without credentials; "" when there is none
    revision: str  # the commit HEAD names
    clean: bool  # no change to tracked files and no untracked file


def checkout(context: Path) -> Checkout | None:
    """The checkout whose top is `context`, or None (not one, no commit yet, or no git).
    `.git` must be a directory in the context: a `.git` file or link (a worktree, a
    submodule's checkout) names a repository elsewhere, which pybuild does not read."""
    git_dir = context / ".git"
    if not git_dir.is_dir() or git_dir.is_symlink() or shutil.which("git") is None:
        return None
    revision = _git(context, "rev-parse", "--verify", "HEAD")
    if not revision:
        return None
    # Untracked files count (COPY . takes them), whatever status.showUntrackedFiles says.
    # Submodules are not asked: git would run their own configs' filters and hooks.
    status = _git(
        context, "status", "--porcelain", "--untracked-files=normal", "--ignore-submodules=all"
    )
    remote = _git(context, "config", "--get", "remote.origin.url") or ""
    return Checkout(without_credentials(remote), revision, status == "")


def _git(context: Path, *args: str) -> str | None:
    """git's output, stripped; None when it fails. No program the checkout's own config names
    runs: the fsmonitor hook is off, and so is every filter driver (a clean filter runs on
    `git status`); a file that only a filter would have shown unchanged then counts as a
    change, which errs on the side of `-dirty`."""
    switches = ["-c", f"safe.directory={context}", "-c", "core.fsmonitor=false"]
    if args[0] != "config":
        for driver in _filter_drivers(context):
            for key in ("clean", "smudge", "process"):
                switches += ["-c", f"filter.{driver}.{key}="]
            switches += ["-c", f"filter.{driver}.required=false"]
    command = ["git", *switches, "-C", str(context), *args]
    environment = {
        **os.environ,
        "GIT_OPTIONAL_LOCKS": "0",  # status writes no index (no post-index-change hook)
        "GIT_TERMINAL_PROMPT": "0",
        # This directory and its .git only: core.worktree and GIT_DIR found elsewhere in the
        # environment or the config do not point git outside the context.
        "GIT_DIR": str(context / ".git"),
        "GIT_WORK_TREE": str(context),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
    }
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            env=environment,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _filter_drivers(context: Path) -> list[str]:
    """The filter drivers any config of the checkout names (reading config runs nothing)."""
    listed = _git(context, "config", "--name-only", "--get-regexp", r"^filter\..*\.")
    names = {line.rsplit(".", 1)[0].split(".", 1)[1] for line in (listed or "").splitlines()}
    return sorted(name for name in names if name)


def without_credentials(url: str) -> str:
    """A remote URL as it may go into an image: user, password, query and fragment taken out
    (`https://user:token@host/x?access_token=...`); a remote that is a local path (a clone
    of a directory on the building machine) gives "". git's scp-like `user@host:path` is
    written as the URL it means, `ssh://host/path`."""
    scp_like = re.fullmatch(r"(?:[^@/]+@)?([^/:]+):(?!//)(.+)", url)
    if scp_like and "://" not in url:
        return f"ssh://{scp_like[1]}/{scp_like[2].lstrip('/')}"
    parts = urllib.parse.urlsplit(url)
    if not parts.scheme or parts.scheme == "file" or not parts.netloc:
        return ""
    host = parts.netloc.rsplit("@", 1)[-1]
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))
