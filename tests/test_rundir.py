"""Run directories: default names never collide, --run-dir must be empty, the run is
recorded."""

import json

import pytest

from smpsim.bootctl import rundir


def test_default_run_directories_are_new_each_time(tmp_path):
    a = rundir.create("virt-vhe", base=tmp_path)
    b = rundir.create("virt-vhe", base=tmp_path)
    assert a != b and a.is_dir() and b.is_dir() and a.name.startswith("virt-vhe-")


def test_a_named_run_directory_must_be_new_or_empty(tmp_path):
    assert rundir.create("x", run_dir=tmp_path / "mine") == (tmp_path / "mine").resolve()
    (tmp_path / "mine" / "events.jsonl").write_text("")
    with pytest.raises(rundir.RunDirError, match="exists and is not an empty directory"):
        rundir.create("x", run_dir=tmp_path / "mine")
    (tmp_path / "file").write_text("")
    with pytest.raises(rundir.RunDirError, match="not an empty directory"):
        rundir.create("x", run_dir=tmp_path / "file")


def test_the_run_is_recorded(tmp_path):
    topo = tmp_path / "t.toml"
    topo.write_text("[[cluster]]\ncpus = 1\n")
    d = rundir.create("t", base=tmp_path / "runs")
    rundir.record_run(d, topo, ["run", str(topo)], "guest.elf", 7)
    assert (d / "topology.toml").read_text() == topo.read_text()
    meta = json.loads((d / "run.json").read_text())
    assert (meta["image"], meta["seed"], meta["argv"][0]) == ("guest.elf", 7, "run")
