"""What the library tells whoever runs it, instead of printing: layers started, advanced and
finished, and notes (a blob pushed, a download's progress, what `docker load` said). The CLI
picks a renderer (progress.py); the library's default, `Reporter()`, shows nothing."""

from __future__ import annotations


class Reporter:
    """Receives build events; this base class ignores them all (quiet). Methods, not event
    objects: `advanced` is called once per file, on the hot path of a layer of many files."""

    # Whether layer_started needs a layer's files and bytes in advance: counting a copied
    # directory costs a walk of it, so they are None for a reporter that does not say so.
    wants_totals = False

    def layer_started(
        self, number: int, total: int, created_by: str, *, files: int | None, size: int | None
    ) -> None:
        """Layer `number` of `total` begins: `files` files of `size` bytes to write (None
        when not counted: see wants_totals)."""

    def advanced(self, files: int, size: int) -> None:
        """So many more files and bytes of the current layer were written."""

    def layer_finished(self, diff_id: str, digest: str, stored: int, *, cached: bool) -> None:
        """The current layer is written (`cached`: copied from the layer cache)."""

    def download(self, url: str, done: int, total: int) -> None:
        """`done` bytes of `url` arrived, of `total` (0 when the server did not say)."""

    def transfer(self, digest: str, done: int, total: int, *, action: str) -> None:
        """`done` bytes of blob `digest` (of `total`) were pulled or pushed (`action`). Blobs
        move in parallel: this is called from several threads at once."""

    def note(self, text: str) -> None:
        """A line worth showing: a blob pushed, an image loaded."""


QUIET = Reporter()
