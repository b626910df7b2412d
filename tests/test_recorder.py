"""The panel recorder protects what is committed: it only adds items, and the model server it
starts cannot outlive it (real processes, killed with SIGKILL)."""

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from avc.panels import datasets, files, recorded
from avc.paths import REPO_ROOT


def load_recorder():
    spec = importlib.util.spec_from_file_location("record_panel", REPO_ROOT / "scripts" / "record_panel.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_asking_for_fewer_items_than_committed_exports_nothing_smaller(tmp_path, monkeypatch, capsys):
    """The bug this guards against: ``--n-items 2`` rewrote the committed ETHICS panel from
    20,200 calls to 202."""
    try:
        datasets.ethics_items()
    except datasets.DatasetNotFoundError as missing:
        pytest.skip(f"dataset not on this machine: {str(missing).splitlines()[0]}")
    panels = tmp_path / "data" / "panels"
    shutil.copytree(REPO_ROOT / "data" / "panels", panels)
    shutil.copytree(REPO_ROOT / "data" / "personas", tmp_path / "data" / "personas")
    monkeypatch.setattr(files, "PROJECT_DATA_DIR", tmp_path / "data")
    monkeypatch.setenv("AVC_CACHE_DIR", str(tmp_path / "cache"))
    before = recorded.load_panel_calls("ethics")
    recorder = load_recorder()
    assert recorder.main(["--domain", "ethics", "--n-items", "2", "--export-only"]) == 0
    out = capsys.readouterr().out
    assert "asked for 2 items; the committed panel has" in out and "keeps all" in out
    after = recorded.load_panel_calls("ethics")
    assert len(after) == len(before) and set(after.key) == set(before.key)
    assert set(recorded.load_panel_items("ethics").index) == set(before.item_id)
    with pytest.raises(SystemExit):
        recorder.main(["--domain", "ethics", "--n-items", "0", "--export-only"])


def test_the_model_server_dies_with_a_recorder_killed_by_sigkill(tmp_path):
    """``spawn_child`` is how LocalLLMServer starts llama.cpp; here the child is a plain sleeper
    so the test needs no model, and the parent is killed the hard way."""
    parent_script = textwrap.dedent(f"""
        import sys, time
        from avc.llm.local import spawn_child
        child = spawn_child([sys.executable, "-c", "import time; time.sleep(120)"], open(r"{tmp_path / "log"}", "ab"))
        print(child.pid, flush=True)
        time.sleep(120)
    """)
    parent = subprocess.Popen([sys.executable, "-c", parent_script], stdout=subprocess.PIPE, text=True)
    child_pid = int(parent.stdout.readline())
    assert _alive(child_pid)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while _alive(child_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child_pid), "the child outlived its SIGKILLed parent"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited and waits for its reaper
