"""The `pybuild` command. An unchanged rebuild is answered here from a stat of its inputs
(uptodate.py) before the CLI, the parser and the evaluator are imported; every other command
goes on to the CLI."""

from __future__ import annotations

import sys


def main() -> None:
    argv = sys.argv[1:]
    from . import uptodate

    if uptodate.replay(argv):
        return
    from .cli import main as cli

    cli(args=argv, prog_name="pybuild", obj={"argv": argv})
