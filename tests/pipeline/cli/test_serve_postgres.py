"""`zarrscribe serve --catalog postgresql://…`: the server workers and pipelines write to."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from bluesky import RunEngine, plans as bp

from tests._servers import PG, postgres_databases
from tests.conftest import Rig
from tests.pipeline.cli._server import Server, zarrscribe_serve
from zarrscribe.catalog import Catalog
from zarrscribe.pipeline import Pipeline
from zarrscribe.pipeline.cli import main


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    base = tmp_path_factory.mktemp("pg") / "data"
    base.mkdir()
    with (
        postgres_databases("zs_serve") as name,
        zarrscribe_serve(
            "--catalog", f"{PG}/{name}", "--base-dir", str(base), log=base.parent / "serve.log"
        ) as server,
    ):
        yield server, base


# A socket of an HTTP client of this process is sometimes collected (and warned
# about) while this test runs; it is not this test's. Left open upstream; see the note.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_pipeline_registers_into_the_served_postgres_catalog(
    served: tuple[Server, Path], rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    server, base = served
    key = server.key()
    assert httpx.get(f"{server.url}/api/v1/search/").status_code == 401
    RE = RunEngine({}, call_returns_result=True)
    api = f"{server.url}/api"
    with Pipeline(rig.devices, base_dir=base, catalog=api, api_key=key) as pipeline:
        pipeline.subscribe(RE)
        (uid,) = RE(bp.scan([rig.cam1, rig.light], rig.motor, 0, 1, 3)).run_start_uids
        assert pipeline.flush(120), pipeline.registrations.failures

    # zarrscribe's own client: runs pinned to BlueskyRun v3 (the stock client's class
    # changes process-wide once any test has used .v2; test_serve covers the stock one)
    catalog = Catalog.from_uri(api, api_key=key)
    assert type(catalog.client).__name__ == "CatalogOfBlueskyRuns"
    run = catalog.run(uid)
    assert type(run).__name__ == "BlueskyRunV3"
    np.testing.assert_array_equal(run["primary"]["m1"].read(), [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(run["primary"]["cam1"].read(), np.stack(rig.cam1.pushed))
    assert catalog.documents(uid)[0][0] == "start"
    catalog.close()

    # the other verbs reach the same server by URI and key
    common = ["--catalog", api, "--api-key", key, "--base-dir", str(base)]
    assert main(["runs", "--json", *common]) == 0
    assert uid in capsys.readouterr().out
    assert main(["delete", uid[:8], *common]) == 0
    assert capsys.readouterr().out == f"deleted catalog entry {uid}\n"
    assert main(["runs", *common]) == 0
    assert capsys.readouterr().err == "no runs match\n"
