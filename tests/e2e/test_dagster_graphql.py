"""The Dagster webserver of this project: asset graph, partitions, and a materialization via GraphQL."""

from __future__ import annotations

import time

import pytest

from tests.e2e.dagster_server import dagster_ui

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

ASSETS_QUERY = """
{
  assetNodes {
    assetKey { path }
    partitionDefinition { type dimensionTypes { name } }
    partitionKeysByDimension { name partitionKeys }
    dependencyKeys { path }
  }
}
"""


def test_graph_partitions_and_materialize_one_partition(bench_home, tmp_path):
    from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError  # noqa: F401

    with dagster_ui(bench_home, tmp_path / "dagster.log") as (url, port):
        client = DagsterGraphQLClient("127.0.0.1", port_number=port)
        nodes = client._execute(ASSETS_QUERY)["assetNodes"]
        by_name = {n["assetKey"]["path"][-1]: n for n in nodes}
        assert {
            "fixtures",
            "measurements",
            "samples",
            "clean_samples",
            "cell_stats",
            "comparisons",
            "report",
        } <= set(by_name)
        for name in ("fixtures", "samples", "clean_samples", "cell_stats"):
            dims = [d["name"] for d in by_name[name]["partitionDefinition"]["dimensionTypes"]]
            assert dims == ["suite", "tool"], (name, dims)
        keys = {d["name"]: d["partitionKeys"] for d in by_name["fixtures"]["partitionKeysByDimension"]}
        assert "vcs" in keys["suite"] and {"git", "git-worktree"} <= set(keys["tool"])
        deps = {tuple(d["path"]) for d in by_name["samples"]["dependencyKeys"]}
        assert ("measurements",) in deps

        run_id = client.submit_job_execution(
            "fixtures_job",
            tags={
                "dagster/partition": "vcs|git",
                "dagster/partition/suite": "vcs",
                "dagster/partition/tool": "git",
            },
            run_config={"ops": {"fixtures": {"config": {"sizes": ["small"], "quick": True}}}},
        )
        deadline = time.monotonic() + 300
        status = None
        while time.monotonic() < deadline:
            status = client.get_run_status(run_id).value
            if status in ("SUCCESS", "FAILURE", "CANCELED"):
                break
            time.sleep(2)
        assert status == "SUCCESS", (tmp_path / "dagster.log").read_text()[-3000:]
        mats = client._execute(
            """query($key: AssetKeyInput!) { assetOrError(assetKey: $key) { ... on Asset {
                 assetMaterializations(limit: 1) { partition runId } } } }""",
            {"key": {"path": ["fixtures"]}},
        )["assetOrError"]["assetMaterializations"]
        assert mats and mats[0]["runId"] == run_id and mats[0]["partition"] == "vcs|git"
