"""The systemd units of deploy/ read as systemd reads them: the EnvironmentFile's
settings, and each unit's ExecStart with those settings substituted.

No systemd runs here, so the tests start the command lines themselves. What is
substituted follows systemd.service(5): ``${NAME}`` anywhere in a word is replaced
by the value; ``$NAME`` as a whole word is split on whitespace into words; ``%i`` is
the instance of a template unit (``zarrscribe-worker@2`` -> ``2``); the program (the
first word) is an absolute path and never a variable.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

DEPLOY = Path(__file__).parents[1] / "deploy"
ENV_FILE = DEPLOY / "zarrscribe.env"
INSTALLED_ENV_FILE = "/etc/zarrscribe/zarrscribe.env"
"""Where the units expect the EnvironmentFile (the README says to copy it there)."""

_BRACED = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_WHOLE = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)$")


def environment_file(path: Path = ENV_FILE) -> dict[str, str]:
    """``NAME=value`` lines (comments and blank lines skipped, quotes removed)."""
    settings = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        name, sep, value = line.partition("=")
        where = f"{path.name}:{number}: not NAME=value: {line!r}"
        assert sep, where
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name.strip()), where
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        settings[name.strip()] = value
    return settings


def unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """Section -> key -> its values in order (a key may repeat, as ExecStart may)."""
    sections: dict[str, dict[str, list[str]]] = {}
    section: dict[str, list[str]] | None = None
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = sections.setdefault(line[1:-1], {})
            continue
        key, sep, value = line.partition("=")
        assert section is not None, f"{path.name}:{number}: outside a [section]: {line!r}"
        assert sep, f"{path.name}:{number}: not key=value: {line!r}"
        section.setdefault(key.strip(), []).append(value.strip())
    return sections


def variables(path: Path) -> set[str]:
    """The settings a unit's ExecStart lines read."""
    names = set()
    for line in unit(path)["Service"]["ExecStart"]:
        names |= set(_BRACED.findall(line))
        names |= {m.group(1) for word in shlex.split(line) if (m := _WHOLE.match(word))}
    return names


def exec_start(path: Path, settings: dict[str, str], instance: str = "") -> list[str]:
    """The command line a unit's (only) ExecStart runs, with ``settings`` substituted."""
    (line,) = unit(path)["Service"]["ExecStart"]
    argv: list[str] = []
    for word in shlex.split(line.replace("%i", instance)):
        whole = _WHOLE.match(word)
        if whole:
            argv += settings[whole.group(1)].split()
        else:
            argv.append(_BRACED.sub(lambda m: settings[m.group(1)], word))
    program = f"{path.name}: the program must be an absolute path: {line!r}"
    assert argv[0].startswith("/"), program
    assert "$" not in line.split()[0], program
    return argv


def units() -> list[Path]:
    """Every unit file of deploy/."""
    return sorted(DEPLOY.glob("*.service"))
