"""Reading runs in a Jupyter notebook, as a person does: a real IPython kernel (without
ipywidgets), whose outputs are read over the Jupyter protocol."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import start_new_kernel


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("notebook") / "data"
    done = subprocess.run(
        [sys.executable, "-m", "zarrscribe", "demo", "--frames", "4", "--base-dir", str(base)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return base


@pytest.fixture
def kernel() -> Iterator[BlockingKernelClient]:
    manager, client = start_new_kernel(kernel_name="python3", stderr=subprocess.DEVNULL)
    try:
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def run_cell(client: BlockingKernelClient, code: str) -> list[tuple[str, dict[str, Any]]]:
    """Execute ``code`` as a notebook cell: every output message (type, content)."""
    msg_id = client.execute(code)
    outputs = []
    while True:
        msg = client.get_iopub_msg(timeout=300)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind = msg["msg_type"]
        if kind == "status" and msg["content"]["execution_state"] == "idle":
            return outputs
        if kind not in ("status", "execute_input"):
            outputs.append((kind, msg["content"]))


def test_reading_a_run_in_a_notebook_prints_only_what_the_cell_prints(
    base: Path, kernel: BlockingKernelClient
) -> None:
    assert importlib.util.find_spec("ipywidgets") is None  # the case that was noisy
    cell = f"""
from zarrscribe.catalog import embedded_catalog
catalog = embedded_catalog({str(base)!r})
run = catalog.search(plan_name="fly_scan")[0]
frames = catalog.read_array(run.uid, "cam1")
dataset = catalog.client[run.uid]["primary"].read()  # every array of the stream
table = catalog.client[catalog.search(plan_name="scan")[0].uid]["primary"].read()
print(frames.shape, dict(dataset.sizes)["time"], len(table["time"]))
"""
    outputs = run_cell(kernel, cell)
    assert outputs == [("stream", {"name": "stdout", "text": "(4, 512, 512) 4 4\n"})]
