"""Warnings in the manner of BuildKit's build checks: a rule name, a message and a position.
They never stop a build unless `--check=error` or the `# check=error=true` directive asks;
`# check=skip=Rule1,Rule2` silences rules."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import InstructionError, Location
from .instructions import (
    Arg,
    Cmd,
    Dockerfile,
    Entrypoint,
    Env,
    Expose,
    From,
    Healthcheck,
    Instruction,
    Label,
    Maintainer,
    Workdir,
)

SECRET_NAME = re.compile(
    r"(?:^|_)(?:PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|"
    r"ACCESS_?KEY|CREDENTIALS?)(?:$|_)",
    re.IGNORECASE,
)


# What BuildKit says each rule is for; its documentation lives at rule_url(rule).
RULES = {
    "StageNameCasing": "Stage names should be lowercase",
    "FromAsCasing": "The 'as' keyword should match the case of the 'from' keyword",
    "ConsistentInstructionCasing": "All commands within the Dockerfile should use the same "
    "casing (either upper or lower)",
    "JSONArgsRecommended": "JSON arguments recommended for ENTRYPOINT/CMD to prevent "
    "unintended behavior related to OS signals",
    "MaintainerDeprecated": "The MAINTAINER instruction is deprecated, use a label instead to "
    "define an image author",
    "WorkdirRelativePath": "Relative workdir without an absolute workdir declared within the "
    "build can have unexpected results if the base image changes",
    "LegacyKeyValueFormat": "Legacy key/value format with whitespace separator should not be used",
    "ExposeProtoCasing": "Protocol in EXPOSE instruction should be lowercase",
    "ExposeInvalidFormat": "IP address and host-port mapping should not be used in EXPOSE "
    "instruction. This will become an error in a future release",
    "MultipleInstructionsDisallowed": "Multiple instructions of the same type should not be "
    "used in the same stage",
    "SecretsUsedInArgOrEnv": "Sensitive data should not be used in the ARG or ENV commands",
}


def rule_url(rule: str) -> str:
    """BuildKit's page for a rule: JSONArgsRecommended -> .../json-args-recommended/."""
    words = re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", rule).lower()
    return f"https://docs.docker.com/go/dockerfile/rule/{words}/"


@dataclass(frozen=True)
class Warning:
    rule: str
    message: str
    location: Location

    def __str__(self) -> str:
        return f"{self.location}: {self.rule}: {self.message}"

    def report(self) -> str:
        """The warning as `--check` shows it, in BuildKit's shape: the rule, its page and what
        it is for, then where, with the line and a caret."""
        where = InstructionError(self.message, self.location).render()
        return f"WARNING: {self.rule} - {rule_url(self.rule)}\n{RULES.get(self.rule, '')}\n{where}"


@dataclass(frozen=True)
class CheckSettings:
    skip: frozenset[str] = frozenset()
    error: bool = False

    @staticmethod
    def from_directive(value: str | None, error: bool = False) -> CheckSettings:
        """`# check=skip=A,B;error=true` (skip=all silences every rule)."""
        skip: set[str] = set()
        if (value or "").strip().lower() == "error":
            return CheckSettings(frozenset(), True)
        for part in (value or "").split(";"):
            key, _, setting = part.strip().partition("=")
            if key == "skip":
                skip.update(name.strip() for name in setting.split(",") if name.strip())
            elif key == "error":
                error = error or setting.strip().lower() == "true"
        return CheckSettings(frozenset(skip), error)


def _legacy_pairs(instruction: Env | Label) -> bool:
    """`ENV key value`: the lowering keeps one pair whose value is the rest of the line."""
    after = instruction.text.split(None, 1)[1] if " " in instruction.text else ""
    first_word = after.split(None, 1)[0] if after else ""
    return "=" not in first_word


def _stage_checks(stage: list[Instruction]) -> list[Warning]:
    warnings = []
    seen: dict[type, Instruction] = {}
    for instruction in stage:
        kind = type(instruction)
        if kind in (Cmd, Entrypoint, Healthcheck):
            if kind in seen:
                name = instruction.keyword.upper()
                warnings.append(
                    Warning(
                        "MultipleInstructionsDisallowed",
                        f"Multiple {name} instructions should not be used in the "
                        "same build stage because only the last one will be used",
                        seen[kind].location,
                    )
                )
            seen[kind] = instruction
    return warnings


def check(dockerfile: Dockerfile) -> list[Warning]:
    """Every warning the Dockerfile earns, in file order."""
    warnings: list[Warning] = []
    stages: list[list[Instruction]] = []
    workdir_set = False
    for instruction in dockerfile.instructions:
        name = instruction.keyword.upper()
        if instruction.keyword not in (name, instruction.keyword.lower()):
            warnings.append(
                Warning(
                    "ConsistentInstructionCasing",
                    f"Command '{instruction.keyword}' should be consistently cased",
                    instruction.location,
                )
            )
        if isinstance(instruction, From):
            stages.append([])
            workdir_set = False
            words = instruction.text.split()
            if len(words) == 4:
                as_word, stage_name = words[2], words[3]
                if stage_name != stage_name.lower():
                    warnings.append(
                        Warning(
                            "StageNameCasing",
                            f"Stage name '{stage_name}' should be lowercase",
                            instruction.location,
                        )
                    )
                if (as_word.isupper()) != (instruction.keyword.isupper()):
                    warnings.append(
                        Warning(
                            "FromAsCasing",
                            f"'{as_word}' and '{instruction.keyword}' keywords' "
                            "casing do not match",
                            instruction.location,
                        )
                    )
        elif stages:
            stages[-1].append(instruction)
        if (
            isinstance(instruction, (Cmd, Entrypoint))
            and instruction.command.shell_form is not None
        ):
            warnings.append(
                Warning(
                    "JSONArgsRecommended",
                    f"JSON arguments recommended for {name} to prevent "
                    "unintended behavior related to OS signals",
                    instruction.location,
                )
            )
        if isinstance(instruction, (Env, Label)) and _legacy_pairs(instruction):
            warnings.append(
                Warning(
                    "LegacyKeyValueFormat",
                    f'"{name} key=value" should be used instead of legacy '
                    f'"{name} key value" format',
                    instruction.location,
                )
            )
        if isinstance(instruction, Maintainer):
            warnings.append(
                Warning(
                    "MaintainerDeprecated",
                    "Maintainer instruction is deprecated in favor of using label",
                    instruction.location,
                )
            )
        if isinstance(instruction, Workdir):
            if not instruction.path.text.startswith(("/", "$")) and not workdir_set:
                warnings.append(
                    Warning(
                        "WorkdirRelativePath",
                        f"Relative workdir '{instruction.path.text}' can have "
                        "unexpected results if the base image changes",
                        instruction.location,
                    )
                )
            workdir_set = True
        if isinstance(instruction, Expose):
            for word in instruction.ports:
                protocol = word.text.partition("/")[2]
                if protocol and protocol != protocol.lower():
                    warnings.append(
                        Warning(
                            "ExposeProtoCasing",
                            f"Defined protocol '{word.text}' in EXPOSE "
                            "instruction should be lowercase",
                            word.location,
                        )
                    )
                if ":" in word.text:
                    warnings.append(
                        Warning(
                            "ExposeInvalidFormat",
                            f"EXPOSE instruction should not define an IP address "
                            f"or host-port mapping, found '{word.text}'",
                            word.location,
                        )
                    )
        keys = []
        if isinstance(instruction, (Env, Arg)):
            keys = (
                [pair.key for pair in instruction.pairs]
                if isinstance(instruction, Env)
                else [declaration.key for declaration in instruction.declarations]
            )
        for key in keys:
            if SECRET_NAME.search(key):
                warnings.append(
                    Warning(
                        "SecretsUsedInArgOrEnv",
                        f'Do not use ARG or ENV instructions for sensitive data ({name} "{key}")',
                        instruction.location,
                    )
                )
    for stage in stages:
        warnings += _stage_checks(stage)
    warnings += _majority_casing(dockerfile.instructions)
    return sorted(warnings, key=lambda w: (w.location.line, w.location.column))


def _majority_casing(instructions: tuple[Instruction, ...]) -> list[Warning]:
    """ConsistentInstructionCasing as BuildKit counts it: the keywords of the stages (from the
    first FROM on) that are all lower or all upper case vote; each keyword not in the
    majority's case is named (a tie counts as uppercase). Mixed-case keywords get the
    rule's other message, above."""
    first = next((i for i, item in enumerate(instructions) if isinstance(item, From)), None)
    staged = instructions[first:] if first is not None else ()
    words = [item.keyword for item in staged]
    lower = sum(1 for word in words if word == word.lower())
    upper = sum(1 for word in words if word == word.upper())
    wanted = "lowercase" if lower > upper else "uppercase"
    return [
        Warning(
            "ConsistentInstructionCasing",
            f"Command '{item.keyword}' should match the case of the command majority ({wanted})",
            item.location,
        )
        for item in staged
        if item.keyword in (item.keyword.lower(), item.keyword.upper())
        and item.keyword
        != (item.keyword.lower() if wanted == "lowercase" else item.keyword.upper())
    ]


def active_warnings(dockerfile: Dockerfile, option: str | None) -> tuple[list[Warning], bool]:
    """The warnings to show (after `skip`) and whether they are errors, from the Dockerfile's
    `# check=` directive and the `--check` option together."""
    directive = CheckSettings.from_directive(dockerfile.directives.get("check"))
    option_settings = CheckSettings.from_directive(option)
    skip = directive.skip | option_settings.skip
    if "all" in skip:
        return [], False
    shown = [warning for warning in check(dockerfile) if warning.rule not in skip]
    return shown, directive.error or option_settings.error


class CheckFailed(InstructionError):
    """`--check=error`: the build stops because the Dockerfile earned warnings."""
