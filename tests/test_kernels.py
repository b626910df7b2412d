"""The kernels of ``avc run`` and nbval listen on Unix sockets of their own, not on TCP ports that
jupyter_client picked and released (which another process can take before the kernel binds them)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from avc.cli.kernels import LONGEST_SOCKET_PATH, PrivateSocketKernelManager, socket_folder

pytestmark = pytest.mark.skipif(not Path("/proc/net/unix").exists(), reason="reads Linux's /proc")


def socket_inodes_of(pid: int) -> set[str]:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def unix_sockets_bound_by(pid: int) -> set[str]:
    """The paths of the Unix sockets that process ``pid`` has bound (from /proc/net/unix)."""
    mine = socket_inodes_of(pid)
    with open("/proc/net/unix") as rows:
        return {row.split()[7] for row in list(rows)[1:] if len(row.split()) > 7 and row.split()[6] in mine}


def started(manager):
    manager.start_kernel(extra_arguments=["--log-level=ERROR"])
    client = manager.client()
    client.start_channels()
    client.wait_for_ready(timeout=60)
    return client


CHANNELS = ("shell", "iopub", "stdin", "control", "hb")


def test_a_kernel_talks_over_private_unix_sockets_and_leaves_nothing_behind():
    manager = PrivateSocketKernelManager(kernel_name="python3")
    client = started(manager)
    try:
        reply = client.execute_interactive("x = 6 * 7", timeout=30)
        assert reply["content"]["status"] == "ok"
        info = manager.get_connection_info()
        assert info["transport"] == "ipc"
        folder = Path(info["ip"]).parent
        paths = {f"{info['ip']}-{info[f'{channel}_port']}" for channel in CHANNELS}
        assert {str(p) for p in folder.iterdir()} == paths
        assert unix_sockets_bound_by(manager.provisioner.process.pid) >= paths
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    assert not folder.exists()


def test_a_temporary_directory_too_long_for_a_socket_path_falls_back_to_tmp(tmp_path, monkeypatch):
    long_tmp = tmp_path / ("t" * 90)
    long_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(long_tmp))
    folder = socket_folder()
    try:
        assert Path(folder).parent == Path("/tmp")
        assert len(os.path.join(folder, "kernel-99")) <= LONGEST_SOCKET_PATH
        assert list(long_tmp.iterdir()) == []  # the folder tried first is removed
    finally:
        os.rmdir(folder)
