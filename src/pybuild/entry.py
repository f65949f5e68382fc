"""The `pybuild` command. `--version` and an unchanged rebuild (answered from a stat of its
inputs, recording.py) are answered here, before the CLI, the parser and the evaluator are
imported (a tenth of a second); every other command goes on to the CLI."""

from __future__ import annotations

import sys


def main() -> None:
    argv = sys.argv[1:]
    if argv == ["--version"]:  # what click's version_option prints, without importing click
        from . import __version__

        print(f"pybuild, version {__version__}")
        return
    from . import recording

    if recording.replay(argv):
        return
    from .cli import main as cli

    cli(args=argv, prog_name="pybuild", obj={"argv": argv})
