"""ADD's downloads: streamed to the build's scratch directory while hashed, checked against
--checksum, with progress reported as events (a line on a terminal). As in Docker, the file is not unpacked, has
mode 0600 and takes its mtime from Last-Modified."""

from __future__ import annotations

import hashlib
import posixpath
import tempfile
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..errors import ContextError
from ..events import QUIET, Reporter

CHUNK = 1 << 16


def is_url(text: str) -> bool:
    return text.lower().startswith(("http://", "https://"))


def is_git(text: str) -> bool:
    lowered = text.lower()
    return lowered.startswith(("git@", "git://")) or (is_url(text) and lowered.endswith(".git"))


@dataclass(frozen=True)
class Download:
    path: Path
    name: str  # the last segment of the URL path: the file name ADD gives it in a directory
    size: int
    mtime: int | None
    digest: str


def file_name(url: str) -> str:
    name = posixpath.basename(urllib.parse.urlparse(url).path.rstrip("/"))
    return urllib.parse.unquote(name) or "download"


def download(
    url: str,
    scratch: Path,
    checksum: str | None = None,
    *,
    timeout: float = 60,
    reporter: Reporter = QUIET,
) -> Download:
    """Fetch `url` into `scratch`; a failed request or a checksum mismatch is an error."""
    import urllib.error
    import urllib.request

    if checksum is not None and not checksum.startswith("sha256:"):
        raise ContextError(f"--checksum={checksum}: only sha256:HEX digests are supported")
    request = urllib.request.Request(url, headers={"User-Agent": f"pybuild/{__version__}"})
    host = urllib.parse.urlparse(url).netloc
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        raise ContextError(f"ADD {url}: the server answered {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise ContextError(f"ADD {url}: cannot reach {host}: {reason}") from None
    sha256 = hashlib.sha256()
    total = int(response.headers.get("Content-Length") or 0)
    size = 0
    with response, tempfile.NamedTemporaryFile(dir=scratch, delete=False) as out:
        try:
            while chunk := response.read(CHUNK):
                out.write(chunk)
                sha256.update(chunk)
                size += len(chunk)
                reporter.download(url, size, total)
        except OSError as error:
            raise ContextError(f"ADD {url}: download from {host} broke off: {error}") from None
    digest = "sha256:" + sha256.hexdigest()
    if checksum is not None and checksum.lower() != digest:
        raise ContextError(f"ADD {url}: checksum mismatch: expected {checksum}, got {digest}")
    modified = response.headers.get("Last-Modified")
    mtime = None
    if modified:
        try:
            import email.utils  # loaded only when a download has a date: it pulls in socket

            mtime = int(email.utils.parsedate_to_datetime(modified).timestamp())
        except (TypeError, ValueError):
            mtime = None
    return Download(Path(out.name), file_name(url), size, mtime, digest)
