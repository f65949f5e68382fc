"""Lowering: flags, exec vs shell form, ENV forms, argument checks, with positions."""

from __future__ import annotations

import pytest

from pybuild.api import parse
from pybuild.dockerfile.instructions import Cmd, Copy, Env, Unsupported
from pybuild.dockerfile.lower import extract_flags, parse_words
from pybuild.errors import DockerfileSyntaxError


def one(text: str):
    return parse("FROM scratch\n" + text).instructions[1]


def test_flags_are_split_off_and_double_dash_ends_them():
    copy = one("COPY --chown=1:2 --link -- --not-a-flag /dst/\n")
    assert isinstance(copy, Copy)
    assert [(flag.name, flag.value) for flag in copy.flags] == [("chown", "1:2"), ("link", None)]
    assert [word.text for word in copy.sources] == ["--not-a-flag"]
    assert copy.flags[0].location.column == 6


def test_extract_flags_removes_quotes():
    flags, rest = extract_flags('--a="x y" b')
    assert [flag for flag, _ in flags] == ["--a=x y"]


def test_exec_and_shell_forms():
    assert one('CMD ["a", "b c"]\n').command.exec_form == ("a", "b c")
    assert one("CMD a  b\n").command.shell_form == "a  b"
    assert one("CMD ['a']\n").command.shell_form == "['a']"  # not JSON: shell form, as in Docker
    assert one("CMD []\n").command.exec_form == ()


def test_json_array_with_a_non_string_is_an_error():
    with pytest.raises(DockerfileSyntaxError, match="strings only") as caught:
        one('CMD ["a", 1]\n')
    assert caught.value.location.line == 2


def test_env_forms():
    env = one('ENV A=1 B="two words"\n')
    assert isinstance(env, Env)
    assert [(pair.key, pair.value) for pair in env.pairs] == [("A", "1"), ("B", '"two words"')]
    legacy = one("ENV ONE TWO= THREE=world\n")
    assert [(pair.key, pair.value) for pair in legacy.pairs] == [("ONE", "TWO= THREE=world")]


@pytest.mark.parametrize(
    "line, message, column",
    [
        ("ENV A=1 B\n", "can't find = in 'B'", 9),
        ("ENV PATH\n", "ENV must have two arguments", 1),
        ("COPY onlyone\n", "at least two arguments", 1),
        ("WORKDIR\n", "WORKDIR requires exactly one argument", 1),
        ("EXPOSE\n", "EXPOSE requires at least one argument", 1),
        ("FROBNICATE x\n", "unknown instruction: FROBNICATE", 1),
    ],
)
def test_errors_carry_line_and_column(line, message, column):
    with pytest.raises(DockerfileSyntaxError) as caught:
        one(line)
    assert message in caught.value.message
    assert (caught.value.location.line, caught.value.location.column) == (2, column)


def test_run_parses_so_its_position_can_be_reported():
    assert isinstance(one("RUN make\n"), Unsupported)


def test_arg_declarations_distinguish_no_default_from_empty():
    arg = one("ARG A B= C=x=y\n")
    assert [(d.key, d.default) for d in arg.declarations] == [("A", None), ("B", ""), ("C", "x=y")]


def test_metadata_instructions():
    assert [(p.key, p.value) for p in one("LABEL legacy two words\n").pairs] == [
        ("legacy", "two words")
    ]
    assert one("USER  app user \n").user.text == "app user"
    assert [w.text for w in one('VOLUME ["/a", "/b"]\n').paths] == ["/a", "/b"]
    assert one('SHELL ["/bin/ash", "-c"]\n').shell == ("/bin/ash", "-c")
    assert one("HEALTHCHECK NONE\n").command is None
    check = one("HEALTHCHECK --retries=3 CMD curl -f x\n")
    assert check.command.shell_form == "curl -f x" and check.options == {"retries": "3"}
    assert one("ONBUILD COPY a /b\n").trigger == "COPY a /b"


@pytest.mark.parametrize(
    "line, message",
    [
        ("SHELL /bin/sh -c\n", "JSON form"),
        ("HEALTHCHECK WHAT\n", 'Unknown type "WHAT"'),
        ("HEALTHCHECK CMD\n", "Missing command"),
        ("ONBUILD ONBUILD RUN x\n", "Chaining ONBUILD"),
        ("ARG =x\n", "ARG names can not be blank"),
        ("USER\n", "USER requires exactly one argument"),
        ("COPY --link --link a b\n", "duplicate flag specified: --link"),
        ("COPY --link=maybe a b\n", "expecting boolean value"),
        ("ENV --x=1 A=b\n", "unknown flag: --x"),
    ],
)
def test_instruction_stage_errors(line, message):
    with pytest.raises(DockerfileSyntaxError, match=message):
        one(line)


def test_parse_words_keeps_quotes_and_escapes():
    assert [word for word, _ in parse_words(r'a="b c" d\ e', "\\")] == ['a="b c"', "d\\ e"]


def test_keyword_is_case_insensitive():
    assert isinstance(one('cmd ["x"]\n'), Cmd)


def test_run_takes_buildkits_flags_and_checks_their_values():
    """RUN is never executed, but a Dockerfile using BuildKit's RUN flags is understood."""
    text = (
        "FROM scratch\nRUN --mount=type=cache,target=/root/.cache --mount=type=secret,id=s "
        "--network=none --security=insecure --device=x --no-cache echo hi\n"
    )
    run = parse(text).instructions[1]
    assert run.options["mount"] == ["type=cache,target=/root/.cache", "type=secret,id=s"]
    assert run.options["network"] == "none" and run.options["security"] == "insecure"
    for flag, message in (
        ("--network=bogus", "invalid network mode: bogus"),
        ("--security=lax", "invalid security mode: lax"),
        ("--mount=type=nfs,target=/x", "unsupported mount type 'nfs'"),
        ("--chown=1", "unknown flag: --chown"),
    ):
        with pytest.raises(DockerfileSyntaxError, match=message) as caught:
            parse(f"FROM scratch\nRUN {flag} x\n")
        assert (caught.value.location.line, caught.value.location.column) == (2, 5)
