"""Evaluator: the config and layer entries each instruction produces (docker build semantics)."""

from __future__ import annotations

import os

import pytest

from evaluation import evaluated
from pybuild.api import parse
from pybuild.build.context import BuildContext
from pybuild.build.evaluator import parse_port
from pybuild.build.timestamps import Timestamps
from pybuild.errors import InstructionError
from pybuild.oci.model import SCRATCH_PATH
from pybuild.oci.platform import Platform
from pybuild.oci.registry import RegistryAccess

PLATFORM = Platform("linux", "amd64")


@pytest.fixture
def context(tmp_path):
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "b.txt").write_text("bb")
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "s.txt").write_text("s")
    (src / "s.txt").chmod(0o600)
    (src / "sub").chmod(0o750)
    os.symlink("s.txt", src / "link")
    return tmp_path


def build(context, text, timestamps=None):
    return evaluated(parse("FROM scratch\n" + text), BuildContext(context), PLATFORM, timestamps)


def entries(layer):
    return {
        entry.path: (entry.kind, oct(entry.mode), entry.uid, entry.gid) for entry in layer.entries
    }


def test_scratch_starts_with_docker_path_and_no_layers(context):
    spec = build(context, 'CMD ["x"]\n')
    assert spec.config == {"Env": [SCRATCH_PATH], "Cmd": ["x"]}
    assert spec.layers == ()
    assert [entry.empty_layer for entry in spec.history] == [True]


def test_copy_file_creates_parents_0755_root(context):
    (layer,) = build(context, "COPY a.txt /x/y/\n").layers
    assert entries(layer) == {
        "x": ("dir", "0o755", 0, 0),
        "x/y": ("dir", "0o755", 0, 0),
        "x/y/a.txt": ("file", "0o644", 0, 0),
    }


def test_copy_directory_copies_contents_keeping_modes_and_links(context):
    (layer,) = build(context, "COPY src /dst\n").layers
    assert entries(layer) == {
        "dst": ("dir", "0o755", 0, 0),
        "dst/link": ("symlink", "0o777", 0, 0),
        "dst/s.txt": ("file", "0o600", 0, 0),
        "dst/sub": ("dir", "0o750", 0, 0),
    }
    assert {e.path: e.linkname for e in layer.entries}["dst/link"] == "s.txt"


def test_chown_owns_files_and_created_parents(context):
    (layer,) = build(context, "COPY --chown=7 a.txt /own/deep/a\n").layers
    assert entries(layer) == {
        "own": ("dir", "0o755", 7, 7),
        "own/deep": ("dir", "0o755", 7, 7),
        "own/deep/a": ("file", "0o644", 7, 7),
    }


def test_existing_directory_destination_without_slash(context):
    spec = build(context, "COPY a.txt /x/\nCOPY b.txt /x\n")
    assert "x/b.txt" in entries(spec.layers[1])


def test_several_sources_need_a_directory_destination(context):
    with pytest.raises(InstructionError, match="must be a directory and end with a /") as caught:
        build(context, "COPY a.txt b.txt /nodir\n")
    assert caught.value.location.line == 2


def test_glob_counts_as_several_sources(context):
    spec = build(context, "COPY *.txt /g/\n")
    assert {"g/a.txt", "g/b.txt"} <= set(entries(spec.layers[0]))


def test_an_absolute_workdir_is_kept_as_written_and_a_relative_one_cleaned(context):
    """As BuildKit: `WORKDIR /tmp/` is `/tmp/` in the config (the classic builder cleans it);
    a relative WORKDIR is joined to the current one and cleaned; files land in the same place."""
    assert build(context, "WORKDIR /tmp/\n").config["WorkingDir"] == "/tmp/"
    spec = build(context, "WORKDIR /a/./b/\nCOPY a.txt .\nWORKDIR ../c/\n")
    assert spec.config["WorkingDir"] == "/a/c"
    assert "a/b/a.txt" in entries(spec.layers[1])


def test_relative_destination_uses_workdir(context):
    spec = build(context, "WORKDIR /app\nWORKDIR sub\nCOPY a.txt .\nCOPY b.txt rel/\n")
    assert spec.config["WorkingDir"] == "/app/sub"
    assert "app/sub/a.txt" in entries(spec.layers[2])  # layers 0 and 1 are the WORKDIRs
    assert "app/sub/rel/b.txt" in entries(spec.layers[3])


def test_workdir_commits_a_layer_only_for_a_new_directory(context):
    spec = build(context, "WORKDIR /app\nWORKDIR /app\nWORKDIR /\n")
    assert len(spec.layers) == 1
    assert [entry.empty_layer for entry in spec.history] == [False, True, True]


def test_env_expands_against_the_values_before_the_line(context):
    spec = build(context, "ENV A=1\nENV A=2 B=$A\nENV C=${UNSET:-d} A=3\n")
    assert spec.config["Env"] == [SCRATCH_PATH, "A=3", "B=1", "C=d"]


def test_variables_expand_in_copy_and_workdir(context):
    spec = build(context, "ENV D=/dest F=a.txt\nWORKDIR $D\nCOPY ${F} ./\n")
    assert "dest/a.txt" in entries(spec.layers[1])


def test_expose_forms(context):
    spec = build(context, "ENV P=9000\nEXPOSE 80 53/UDP 8000-8002 $P/tcp\n")
    assert sorted(spec.config["ExposedPorts"]) == [
        "53/udp",
        "80/tcp",
        "8000/tcp",
        "8001/tcp",
        "8002/tcp",
        "9000/tcp",
    ]


@pytest.mark.parametrize("spec", ["70000", "90-80", "80/xyz", "abc"])
def test_bad_ports(spec):
    with pytest.raises(InstructionError):
        parse_port(spec)


def test_shell_form_wraps_in_sh_and_entrypoint_clears_an_earlier_stage_cmd(context):
    spec = build(context, 'CMD echo hi\nENTRYPOINT ["/e"]\n')
    assert spec.config["Cmd"] == ["/bin/sh", "-c", "echo hi"]  # set in this stage: kept
    spec = build(context, "ENTRYPOINT /e --flag\n")
    assert spec.config["Entrypoint"] == ["/bin/sh", "-c", "/e --flag"]
    assert "Cmd" not in spec.config


def test_run_explains_that_pybuild_never_executes(context):
    with pytest.raises(InstructionError, match="never executes commands.*COPY") as caught:
        build(context, "RUN make\n")
    assert caught.value.location.line == 2


def test_base_images_need_a_source(tmp_path):
    with pytest.raises(
        InstructionError, match="not a stage or a --build-context, and pulling is off"
    ) as caught:
        evaluated(parse("FROM alpine:3\n"), BuildContext(tmp_path), PLATFORM, Timestamps())
    assert caught.value.location.column == 6


def make_tar(path, members, compress=None):
    """members: (name, data or None for a directory or a (type, linkname) pair)."""
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            if isinstance(data, tuple):
                info.type, info.linkname = data
                tar.addfile(info)
            elif data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size, info.uid, info.gid = len(data), 10, 20
                tar.addfile(info, io.BytesIO(data))
    raw = buffer.getvalue()
    path.write_bytes(compress(raw) if compress else raw)


def test_add_extracts_zstd_and_chown_applies_to_members(context, tmp_path):
    import zstandard

    make_tar(
        context / "pkg.tar.zst",
        [("d", None), ("d/f", b"data")],
        zstandard.ZstdCompressor().compress,
    )
    spec = evaluated(
        parse("FROM scratch\nADD pkg.tar.zst /x/\nADD --chown=7:8 pkg.tar.zst /y/\n"),
        BuildContext(context),
        PLATFORM,
        Timestamps(),
        scratch=tmp_path,
    )
    assert entries(spec.layers[0])["x/d/f"] == ("file", "0o644", 10, 20)
    assert entries(spec.layers[1])["y/d/f"] == ("file", "0o644", 7, 8)


def test_add_never_extracts_outside_the_destination(context, tmp_path):
    make_tar(context / "evil.tar", [("../escape", b"x")])
    with pytest.raises(InstructionError, match="outside the destination"):
        evaluated(
            parse("FROM scratch\nADD evil.tar /x/\n"),
            BuildContext(context),
            PLATFORM,
            Timestamps(),
            scratch=tmp_path,
        )
    import tarfile

    make_tar(context / "through.tar", [("l", (tarfile.SYMTYPE, "/etc")), ("l/passwd", b"x")])
    with pytest.raises(InstructionError, match="through the symlink l"):
        evaluated(
            parse("FROM scratch\nADD through.tar /x/\n"),
            BuildContext(context),
            PLATFORM,
            Timestamps(),
            scratch=tmp_path,
        )


def test_hard_links_stay_hard_links_in_a_layer(context, tmp_path):
    import tarfile

    make_tar(context / "links.tar", [("a", b"same"), ("b", (tarfile.LNKTYPE, "a"))])
    archive = tmp_path / "out.tar"
    (context / "Dockerfile").write_text("FROM scratch\nADD links.tar /l/\n")
    from pybuild import api
    from pybuild.oci.validate import validate_archive
    from pybuild.outputs.spec import parse_output

    api.build(api.BuildOptions(context=context, tags=("l:1",), output=parse_output(str(archive))))
    (members,) = validate_archive(archive).layer_members.values()
    kinds = {m.name: (m.type, m.linkname) for m in members}
    assert kinds["l/a"] == (tarfile.REGTYPE, "") and kinds["l/b"] == (tarfile.LNKTYPE, "l/a")


def test_copy_refuses_urls_and_add_refuses_git(context):
    with pytest.raises(InstructionError, match="source can't be a URL for COPY"):
        build(context, "COPY https://example.com/x /x\n")
    with pytest.raises(InstructionError, match="git repository is not supported yet"):
        build(context, "ADD https://example.com/repo.git /x\n")
    spec = build(context, "ADD a.txt /plain\n")
    assert "plain" in entries(spec.layers[0])


def test_source_date_epoch_clamps_file_times(context):
    os.utime(context / "a.txt", (2_000_000_000, 2_000_000_000))
    (layer,) = build(context, "COPY a.txt /a\n", Timestamps(1_000, keep_file_times=True)).layers
    assert {entry.path: entry.mtime for entry in layer.entries}["a"] == 1_000
    (layer,) = build(context, "COPY a.txt /a\n").layers
    assert {entry.path: entry.mtime for entry in layer.entries}["a"] == 0


def test_directory_over_a_file_is_an_error_as_in_docker(context):
    with pytest.raises(InstructionError, match="cannot make directory /d: it is a file") as caught:
        build(context, "COPY a.txt /d/.\nWORKDIR /d\n")
    assert caught.value.location.line == 3
    with pytest.raises(InstructionError, match="cannot make directory /f"):
        build(context, "COPY a.txt /f\nCOPY b.txt /f/g/\n")


def test_dot_destination_takes_one_source_but_not_several(context):
    spec = build(context, "WORKDIR /w\nCOPY a.txt .\n")
    assert "w/a.txt" in entries(spec.layers[1])
    with pytest.raises(InstructionError, match="must be a directory and end with a /") as caught:
        build(context, "WORKDIR /w\nCOPY a.txt b.txt .\n")
    assert caught.value.location.column == 18  # the "."


def test_chmod_octal_and_symbolic_apply_to_copied_files_and_dirs_not_parents(context):
    (layer,) = build(context, "COPY --chmod=0750 src /p/q/\n").layers
    modes = {path: mode for path, (_, mode, _, _) in entries(layer).items()}
    assert modes["p"] == "0o755"  # a created parent
    assert modes["p/q/s.txt"] == modes["p/q/sub"] == "0o750"
    assert modes["p/q/link"] == "0o777"  # symlinks have no mode of their own
    (layer,) = build(context, "COPY --chmod=u+x,go-rwx a.txt /a\n").layers
    assert entries(layer)["a"][1] == "0o700"
    (layer,) = build(context, "COPY --chmod=a+X src /d\n").layers
    assert entries(layer)["d/sub"][1] == "0o751" and entries(layer)["d/s.txt"][1] == "0o600"


def test_bad_chmod_is_an_error(context):
    with pytest.raises(InstructionError, match="invalid --chmod=u\\+q"):
        build(context, "COPY --chmod=u+q a.txt /a\n")


def test_exclude_patterns_are_relative_to_each_source(context):
    (layer,) = build(context, "COPY --exclude=*.txt --exclude=sub src /d/\n").layers
    assert set(entries(layer)) == {"d", "d/link"}
    (layer,) = build(context, "COPY --exclude=b.txt *.txt /t/\n").layers
    assert set(entries(layer)) == {"t", "t/a.txt"}


def test_parents_keeps_source_paths_and_the_pivot(context):
    (layer,) = build(context, "COPY --parents src/s.txt a.txt /out/\n").layers
    assert {"out/src/s.txt", "out/a.txt"} <= set(entries(layer))
    (layer,) = build(context, "COPY --parents ./src/./sub /out/\n").layers
    assert "out/sub" in entries(layer) and "out/src" not in entries(layer)


def test_link_is_accepted_and_changes_nothing(context):
    plain = build(context, "COPY a.txt /a\n").layers[0].entries
    assert build(context, "COPY --link a.txt /a\n").layers[0].entries == plain


def test_chown_by_name_needs_the_image_passwd(context):
    with pytest.raises(InstructionError, match="has no /etc/passwd"):
        build(context, "COPY --chown=app a.txt /a\n")
    (context / "passwd").write_text("app:x:7:8::/:/bin/sh\n")
    (layer,) = build(context, "COPY passwd /etc/passwd\nCOPY --chown=app a.txt /a\n").layers[1:]
    assert entries(layer)["a"][2:] == (7, 8)
    with pytest.raises(InstructionError, match="no user named 'nobody'"):
        build(context, "COPY passwd /etc/passwd\nCOPY --chown=nobody a.txt /a\n")


def test_copy_from_a_stage_reads_files_that_came_from_an_archive(context, tmp_path):
    make_tar(
        context / "pkg.tar", [("d", None), ("d/first", b"first bytes"), ("d/second", b"second")]
    )
    (context / "passwd").write_text("app:x:7:8::/:/bin/sh\n")
    text = (
        "FROM scratch AS unpack\nADD pkg.tar /x/\nADD passwd.tar /etc/\n"
        "FROM scratch\nCOPY --from=unpack /etc/passwd /etc/passwd\n"
        "COPY --from=unpack /x/d/second /copied\nCOPY --chown=app --from=unpack /x/d/first /owned\n"
    )
    make_tar(context / "passwd.tar", [("passwd", (context / "passwd").read_bytes())])
    spec = evaluated(parse(text), BuildContext(context), PLATFORM, Timestamps(), scratch=tmp_path)
    copied = [e for layer in spec.layers for e in layer.entries if e.path in ("copied", "owned")]
    for entry in copied:
        with open(entry.source, "rb") as handle:
            handle.seek(entry.offset)
            data = handle.read(entry.size)
        assert data == (b"second" if entry.path == "copied" else b"first bytes")
    assert {e.path: (e.uid, e.gid) for e in copied}["owned"] == (
        7,
        8,
    )  # passwd read from inside a tar


def test_copies_of_one_file_in_different_layers_stay_separate_files(tmp_path):
    """A stage whose /a and /b are copies of one context file (two layers): copying the whole
    stage makes two files, not a file and a hard link to it."""
    from pybuild import api
    from pybuild.oci.validate import validate_archive
    from pybuild.outputs.spec import parse_output

    context = tmp_path / "ctx"
    context.mkdir()
    (context / "one").write_text("same bytes")
    os.link(context / "one", context / "two")
    (context / "Dockerfile").write_text(
        "FROM scratch AS s\nCOPY one /a\nCOPY one /b\nFROM scratch\nCOPY --from=s / /\n"
    )
    archive = tmp_path / "out.tar"
    api.build(api.BuildOptions(context=context, tags=("s:1",), output=parse_output(str(archive))))
    (members,) = validate_archive(archive).layer_members.values()
    assert {m.name: m.isreg() for m in members if m.name in ("a", "b")} == {"a": True, "b": True}


def test_two_archives_added_at_once_keep_their_own_bytes(tmp_path):
    """Members at the same offset of two archives are not hard links of each other."""
    context = tmp_path / "ctx"
    context.mkdir()
    make_tar(context / "a.tar", [("a.txt", b"AAAA")])
    make_tar(context / "b.tar", [("b.txt", b"BBBB")])
    spec = evaluated(
        parse("FROM scratch\nADD a.tar b.tar /dst/\n"),
        BuildContext(context),
        PLATFORM,
        scratch=tmp_path,
    )
    files = {e.path: e for e in spec.layers[0].entries if e.kind == "file"}
    assert files["dst/a.txt"].link_group != files["dst/b.txt"].link_group
    assert files["dst/b.txt"].read() == b"BBBB"


def test_a_hard_link_in_one_archive_never_reaches_a_member_of_another(tmp_path):
    """ADD a1.tar a2.tar: a2's hard link to `secret` (a member of a1 only) is refused, not
    linked across archives."""
    import tarfile

    context = tmp_path / "ctx"
    context.mkdir()
    make_tar(context / "a1.tar", [("secret", b"from a1")])
    make_tar(context / "a2.tar", [("link", (tarfile.LNKTYPE, "secret"))])
    with pytest.raises(InstructionError, match="a2.tar: hard link link points at secret"):
        evaluated(
            parse("FROM scratch\nADD a1.tar a2.tar /d/\n"),
            BuildContext(context),
            PLATFORM,
            scratch=tmp_path,
        )


def test_a_platform_list_is_several_platforms_and_one_where_one_is_meant(tmp_path):
    """`--platform linux/amd64,linux/arm64` is two platforms (each once); where one platform is
    meant (FROM --platform) a list is refused, never read as the architecture `amd64,linux`."""
    from pybuild.errors import UsageError
    from pybuild.oci.platform import Platform, parse_platform, parse_platforms

    assert parse_platforms("linux/amd64,linux/arm64,linux/amd64") == (
        Platform("linux", "amd64"),
        Platform("linux", "arm64"),
    )
    with pytest.raises(UsageError, match="one platform is expected"):
        parse_platform("linux/amd64,linux/arm64")
    with pytest.raises(InstructionError, match="one platform is expected") as caught:
        build(tmp_path, "FROM --platform=linux/amd64,linux/arm64 scratch\n")
    assert caught.value.location.column == 6


def test_a_run_the_image_needs_is_an_error_at_the_run_before_any_pull(tmp_path):
    """The error points at the RUN, names the line that needs its stage and how to go on, and
    comes before the stage's base (unreachable here) is pulled."""
    text = (
        "FROM 127.0.0.1:9/never/pulled AS builder\nRUN make\n"
        "FROM scratch\nCOPY --from=builder /out /app\n"
    )
    with pytest.raises(InstructionError, match="RUN is not supported") as caught:
        evaluated(parse(text), BuildContext(tmp_path), PLATFORM, registry=RegistryAccess())
    error = caught.value
    assert (error.location.line, error.location.column) == (2, 1)
    assert "`COPY --from=builder /out /app` at line 4" in error.message
    assert "--build-context builder=DIR" in error.message


def test_a_run_in_an_unnamed_or_final_stage_says_how_to_go_on(tmp_path):
    """An unnamed stage cannot be replaced by --build-context 0=DIR (only names can): the
    message says to name it. A RUN in the last stage, with no --target, says --target exists
    (real Dockerfiles often end with a dev stage that runs apk)."""
    unnamed = "FROM scratch\nRUN make\nFROM scratch\nCOPY --from=0 /out /app\n"
    with pytest.raises(InstructionError, match="stage 0, which has no name") as caught:
        evaluated(parse(unnamed), BuildContext(tmp_path), PLATFORM)
    assert "FROM ... AS builder" in caught.value.message
    assert "--build-context 0=" not in caught.value.message
    last = 'FROM scratch AS release\nCMD ["x"]\nFROM scratch AS dev\nRUN apk add x\n'
    with pytest.raises(InstructionError, match="--target names another"):
        evaluated(parse(last), BuildContext(tmp_path), PLATFORM)
    image = evaluated(parse(last), BuildContext(tmp_path), PLATFORM, target="release")
    assert image.evaluation.image.config.run.cmd == ("x",)


def test_stages_named_through_args_are_pruned_before_they_are_evaluated(context):
    """FROM ${BASE} (a global ARG) and COPY --from=${SRC} (a stage ARG) name their stage before
    evaluation, so a stage with a RUN that neither names is never looked at."""
    text = (
        "ARG BASE=good\nARG PICK=files\n"
        "FROM scratch AS unused\nRUN make\n"
        "FROM scratch AS files\nCOPY a.txt /a.txt\n"
        "FROM scratch AS good\nARG PICK\nARG SRC=${PICK}\nCOPY --from=${SRC} /a.txt /copied\n"
        "FROM ${BASE}\n"
    )
    image = evaluated(parse(text), BuildContext(context), PLATFORM).evaluation.image
    assert [entry.path for entry in image.layers[0].entries] == ["copied"]
    with pytest.raises(InstructionError, match="RUN is not supported"):  # chosen by --build-arg
        evaluated(parse(text), BuildContext(context), PLATFORM, build_args={"PICK": "unused"})


def test_onbuild_triggers_run_at_the_childs_from_and_are_not_inherited(context):
    """As BuildKit: the base's ONBUILD COPY and ENV run at FROM base (a layer and a variable);
    the child's config has no OnBuild, so a grandchild runs nothing again. A RUN trigger is
    the usual clear error, at the child's FROM."""
    text = (
        "FROM scratch AS base\nONBUILD COPY a.txt /a.txt\nONBUILD ENV X=1\n"
        "FROM base AS child\nENV Y=$X\n"
        "FROM child\nENV Z=3\n"
    )
    spec = evaluated(parse(text), BuildContext(context), PLATFORM)
    assert spec.config["Env"][1:] == ["X=1", "Y=1", "Z=3"]
    assert "OnBuild" not in spec.config or not spec.config["OnBuild"]
    assert [list(entries(layer)) for layer in spec.layers] == [["a.txt"]]  # copied once
    with pytest.raises(InstructionError, match="ONBUILD RUN make .*not supported") as caught:
        evaluated(
            parse("FROM scratch AS b\nONBUILD RUN make\nFROM b\n"), BuildContext(context), PLATFORM
        )
    assert caught.value.location.line == 3


def test_destinations_through_symlinks_in_the_image_land_where_they_point(tmp_path):
    """As Docker and BuildKit: `COPY a /link/` with /link -> /target writes /target/a; a
    dangling link is written through (its directories made); `..` in a link never climbs out
    of the image root; WORKDIR follows links the same way."""
    (tmp_path / "tree" / "target").mkdir(parents=True)
    (tmp_path / "tree" / "link").symlink_to("/target")
    (tmp_path / "tree" / "dangle").symlink_to("/nowhere/deeper")
    (tmp_path / "tree" / "up").symlink_to("../..")
    (tmp_path / "a").write_text("a")
    text = (
        "FROM scratch\nCOPY tree/ /\nCOPY a /link/\nCOPY a /dangle/\nCOPY a /up/escaped\n"
        "WORKDIR /link\nCOPY a here\n"
    )
    spec = evaluated(parse(text), BuildContext(tmp_path), PLATFORM)
    written = [list(entries(layer)) for layer in spec.layers[1:]]
    assert "target/a" in written[0]
    assert "nowhere/deeper/a" in written[1] and "nowhere" in written[1]
    assert "escaped" in written[2]
    assert "target/here" in written[-1]
    assert spec.config["WorkingDir"] == "/link"


def test_platform_arguments_and_from_platform_buildplatform(context):
    """BuildKit's automatic platform ARGs: global, and in a stage after `ARG NAME`; FROM
    --platform=$BUILDPLATFORM builds that stage for this machine while the image is for the
    target."""
    from pybuild.oci.platform import host_platform

    text = (
        "ARG TARGETARCH\nFROM --platform=$BUILDPLATFORM scratch AS tools\n"
        "ARG BUILDARCH\nARG TARGETARCH\nENV B=$BUILDARCH T=$TARGETARCH\nCOPY a.txt /a.txt\n"
        "FROM scratch\nCOPY --from=tools /a.txt /a.txt\nARG TARGETPLATFORM\nARG TARGETVARIANT\n"
        "ENV P=$TARGETPLATFORM V=$TARGETVARIANT\n"
    )
    arm = Platform("linux", "arm", "v7")
    spec = evaluated(parse(text), BuildContext(context), arm)
    assert spec.config["Env"][1:] == ["P=linux/arm/v7", "V=v7"]
    tools = next(s for s in spec.evaluation.steps if s.instruction.text.startswith("ENV B="))
    assert tools.config_after.env[1:] == (f"B={host_platform().architecture}", "T=arm")
    assert spec.evaluation.image.config.platform == arm
