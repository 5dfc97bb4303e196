"""Sweeps on a real Dask cluster: `embedlib sweep --scheduler` hands its runs to a LocalCluster of processes."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from embedlib import cli

distributed = pytest.importorskip("distributed", reason="needs Dask's distributed (pip install 'embedlib[dask]')")

SMALL = "dataset: synthetic\nembedding_dim: 4\nbatch_size: 512\nlearning_rate: 0.01\n"


@pytest.mark.slow
def test_a_two_run_sweep_runs_on_a_local_cluster_of_processes(tmp_path, capsys):
    (tmp_path / "small.yaml").write_text(SMALL)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        args = ["sweep", "02", "-p", "epochs", "1", "2", "-f", str(tmp_path / "small.yaml")]
        code = cli.main([*args, "--scheduler", cluster.scheduler_address, "--output-dir", str(tmp_path / "out")])
        assert code == 0, capsys.readouterr().err
        with distributed.Client(cluster) as client:
            worker_pids = set(client.run(os.getpid).values())
    assert "sweeping on the Dask cluster" in capsys.readouterr().out
    table = pd.read_csv(tmp_path / "out" / "results.csv")
    assert table["status"].tolist() == ["ok", "ok"] and sorted(table["epochs"]) == [1, 2]
    assert table["val_rmse"].notna().all() and (table["dataset"] == "synthetic").all()
    assert len(worker_pids) == 2 and os.getpid() not in worker_pids  # worker processes, not threads of this one


def test_an_unreachable_scheduler_is_a_clear_error(tmp_path, capsys, monkeypatch):
    asked = {}

    def no_scheduler(address, timeout):  # what distributed.Client raises once its timeout has passed
        asked.update(address=address, timeout=timeout)
        raise OSError(f"Timed out trying to connect to {address} after {timeout}")

    monkeypatch.setattr(distributed, "Client", no_scheduler)
    code = cli.main(
        ["sweep", "02", "-p", "epochs", "1", "--scheduler", "tcp://127.0.0.1:1", "--output-dir", str(tmp_path)]
    )
    assert code == 2
    assert "No Dask scheduler answered at 'tcp://127.0.0.1:1': Timed out" in capsys.readouterr().err
    assert asked == {"address": "tcp://127.0.0.1:1", "timeout": "10s"} and not (tmp_path / "runs").exists()
