"""Every Python example of the README runs alone, as written, in a fresh process, and
says nothing on stderr.

The world each one gets is the one the README describes: an empty folder as the
working directory, holding ``zarrscribe-data`` filled by ``zarrscribe demo`` (what
``make demo`` leaves), which is also the ``/data`` of the examples; and, for an
example that reads from ``http://127.0.0.1:8000``, ``zarrscribe serve`` running on
that folder (on a free port, put in place of 8000). Nothing else is added: an example
that needs another's variables or imports fails here.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from tests.pipeline.cli._server import zarrscribe_serve

README = Path(__file__).parents[1] / "README.md"
SERVER = "127.0.0.1:8000"


def python_examples() -> list[tuple[str, str]]:
    """(heading of its section, code) of every ```python block, in order."""
    examples = []
    heading = ""
    for part in re.split(r"(^## [^\n]*|```python\n.*?```)", README.read_text(), flags=re.M | re.S):
        if part.startswith("## "):
            heading = part[3:].strip()
        elif part.startswith("```python\n"):
            examples.append((heading, part.removeprefix("```python\n").removesuffix("```")))
    return examples


EXAMPLES = python_examples()


def test_the_readme_has_its_examples() -> None:
    assert [heading for heading, _ in EXAMPLES] == [
        "Serve the catalog: `zarrscribe serve`",
        "Use it",
        "Watching a run live",
        "Open a folder you already have",
        "ophyd-async detectors in the same store",
        "Derived frames: a running median of a camera",
        "Open a store in a viewer",
        "Writer layout",
    ]


CHECKS = {
    "Use it": (
        "assert frames.shape == (10, 512, 512), frames.shape\n"
        "assert sorted(catalog.readings(run.uid)['primary']) == ['seq_num', 'time', 'x']\n"
    ),
    "Watching a run live": (
        "assert pipeline.live.written >= 1, pipeline.live.written\n"
        "assert [r.exit_status for r in catalog.search(plan_name='count')][0] == 'success'\n"
    ),
    "Open a folder you already have": (
        "assert len(runs) == 1 and frames.shape == (3, 512, 512), (len(runs), frames.shape)\n"
    ),
    "Writer layout": "assert writer.sources == {}\n",
    "Derived frames: a running median of a camera": (
        "assert background.shape == (2, 512, 512), background.shape\n"
        "assert str(background.dtype) == 'float32', background.dtype\n"
    ),
}
"""What is asserted after an example (appended: it adds nothing the example needs)."""


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("readme") / "zarrscribe-data"
    command = [sys.executable, "-m", "zarrscribe", "demo", "--frames", "3"]
    done = subprocess.run(
        [*command, "--base-dir", str(base)], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    return base


@contextmanager
def _world(code: str, cwd: Path, demo_data: Path) -> Iterator[str]:
    """The example's code, with its data folder (and its server) in place."""
    base = cwd / "zarrscribe-data"
    shutil.copytree(demo_data, base)
    code = code.replace('"/data', f'"{base}')
    with ExitStack() as stack:
        if SERVER in code:
            server = stack.enter_context(
                zarrscribe_serve("--base-dir", str(base), log=cwd.parent / "serve.log")
            )
            code = code.replace(f"http://{SERVER}", server.url)
        yield code


@pytest.mark.parametrize(("heading", "code"), EXAMPLES, ids=[h for h, _ in EXAMPLES])
def test_each_example_runs_alone_and_quietly(
    heading: str, code: str, demo_data: Path, tmp_path: Path
) -> None:
    cwd = tmp_path / "fresh"
    cwd.mkdir()
    with _world(code + CHECKS.get(heading, ""), cwd, demo_data) as runnable:
        done = subprocess.run(
            [sys.executable, "-c", runnable], capture_output=True, text=True, timeout=600, cwd=cwd
        )
    assert done.returncode == 0, f"{heading}: {done.stderr[-3000:]}"
    assert done.stderr == "", heading
