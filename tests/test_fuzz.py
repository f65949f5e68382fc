"""Property tests (Hypothesis): for any input, the parser, the lowering to instructions, word
expansion, the archive reader and the OCI document readers give a result or a PybuildError
(with a position where the input is a Dockerfile), never another exception. Bounded: a few
hundred cases each, no example database written into the checkout. Inputs they found are kept
as @example regression cases."""

from __future__ import annotations

import json

import pytest

hypothesis = pytest.importorskip("hypothesis")  # in the test extra; CI installs it
from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from images import tar_bytes  # noqa: E402
from pybuild.api import parse  # noqa: E402
from pybuild.dockerfile.expand import expand_word, expand_words  # noqa: E402
from pybuild.errors import InstructionError, PybuildError  # noqa: E402
from pybuild.oci.archive import ImageArchive  # noqa: E402
from pybuild.oci.model import ImageConfig, Index, Manifest  # noqa: E402

BOUNDED = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

PIECES = [
    "FROM ",
    "scratch",
    " AS ",
    "RUN ",
    "COPY ",
    "ADD ",
    "ARG ",
    "ENV ",
    "LABEL ",
    "CMD ",
    "ENTRYPOINT ",
    "WORKDIR ",
    "USER ",
    "EXPOSE ",
    "HEALTHCHECK ",
    "SHELL ",
    "ONBUILD ",
    "STOPSIGNAL ",
    "VOLUME ",
    "MAINTAINER ",
    "--from=",
    "--chown=",
    "--chmod=",
    "--mount=",
    "--platform=",
    "${",
    "}",
    "$",
    ":-",
    ":+",
    "#",
    "%",
    "\\",
    "\\\n",
    "\n",
    " ",
    "\t",
    "=",
    "[",
    "]",
    '"',
    "'",
    ",",
    "<<EOF\n",
    "<<-EOF\n",
    "EOF\n",
    "# escape=`\n",
    "# syntax=x\n",
    "`\n",
    "\x00",
    "\u00e9",
    "*",
    "?",
    "a",
    "b",
    "/",
    "..",
    "0",
]
dockerfiles = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=4)), max_size=40).map(
    "".join
)
words = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "$",
                "${",
                "}",
                ":-",
                ":+",
                "#",
                "##",
                "%",
                "%%",
                "\\",
                "'",
                '"',
                "a",
                "b",
                "*",
                "?",
                "[",
                "]",
                "/",
                " ",
            ]
        ),
        st.text(max_size=3),
    ),
    max_size=30,
).map("".join)


@BOUNDED
@given(dockerfiles)
@example("FROM scratch\nCOPY <<EOF\n")
@example("# escape=`\nFROM scratch`\n")
@example("ONBUILD ONBUILD CMD x\n")
def test_any_dockerfile_parses_or_fails_with_a_position(text):
    try:
        parse(text, "Dockerfile")
    except InstructionError as error:
        assert error.location is not None and error.location.line >= 1, error
    except PybuildError as error:  # every Dockerfile error must say where
        pytest.fail(f"no position: {type(error).__name__}: {error}")


@BOUNDED
@given(words, st.dictionaries(st.sampled_from(["a", "b", "A"]), st.text(max_size=8)))
@example("${a:-${a:-${a", {})
@example("${a#[}", {"a": "x"})
def test_any_word_expands_or_fails_clearly(word, env):
    for expand in (expand_word, expand_words):
        try:
            expand(word, env)
        except PybuildError:
            pass


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "Config",
                    "Layers",
                    "RepoTags",
                    "manifests",
                    "digest",
                    "size",
                    "mediaType",
                    "config",
                    "layers",
                    "schemaVersion",
                    "platform",
                    "architecture",
                    "os",
                    "rootfs",
                    "diff_ids",
                    "history",
                    "Env",
                ]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=20,
)
member_names = st.sampled_from(
    [
        "manifest.json",
        "index.json",
        "oci-layout",
        "config.json",
        "l.tar",
        "blobs/sha256/" + "a" * 64,
        "../x",
        "/etc/passwd",
        "./manifest.json",
    ]
)


@BOUNDED
@given(
    st.lists(
        st.tuples(
            member_names, json_values.map(lambda v: json.dumps(v).encode()) | st.binary(max_size=64)
        ),
        max_size=5,
    )
)
def test_any_archive_is_read_or_refused_clearly(tmp_path_factory, members):
    path = tmp_path_factory.mktemp("fuzz") / "image.tar"
    path.write_bytes(tar_bytes(members))
    try:
        with ImageArchive(path) as archive:
            archive.image()
    except PybuildError:
        pass


@BOUNDED
@given(json_values)
def test_any_json_document_is_read_or_refused_clearly(value):
    data = json.dumps(value).encode()
    for reader in (Manifest.from_json, Index.from_json, ImageConfig.from_json):
        try:
            reader(data)
        except PybuildError:
            pass
