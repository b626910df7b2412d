"""Kernels that talk over Unix sockets in a private folder, not over TCP ports.

With TCP, jupyter_client picks five free ports, releases them and lets the kernel bind them; in
between, any other process on the machine can take one: a local model server, or just the
ephemeral port of an outgoing connection to it. The kernel then dies at start ("Kernel died
before replying to kernel_info") or prints a heartbeat traceback ("Address already in use").
A run that talks to a server on 127.0.0.1 makes hundreds of such connections. Sockets in a
folder that only this kernel uses cannot be taken. Where Unix sockets do not exist (Windows),
the managers fall back to TCP.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref

from jupyter_client import AsyncKernelManager, KernelManager

UNIX_SOCKETS = os.name == "posix"
LONGEST_SOCKET_PATH = 100  # a Unix socket's path holds at most 107 bytes on Linux, 103 on macOS


def socket_folder() -> str | None:
    """A fresh folder for a kernel's five sockets (``<folder>/kernel-1`` … ``kernel-5``): under the
    temporary directory, or under /tmp where that path is too long for a socket. None where
    neither is short enough."""
    for parent in (None, "/tmp"):
        if parent and not os.path.isdir(parent):
            continue
        folder = tempfile.mkdtemp(prefix="avc-kernel-", dir=parent)
        if len(os.path.join(folder, "kernel-99")) <= LONGEST_SOCKET_PATH:
            return folder
        os.rmdir(folder)
    return None


class _PrivateSockets:
    """Mixin: the ``ipc`` transport, its socket files in a fresh folder (:func:`socket_folder`),
    removed when the kernel is shut down or the manager goes; TCP where there is no such folder."""

    def __init__(self, **kwargs):
        folder = socket_folder() if UNIX_SOCKETS and "transport" not in kwargs else None
        if folder:
            kwargs.update(transport="ipc", ip=os.path.join(folder, "kernel"))
        super().__init__(**kwargs)
        self._socket_folder = folder
        if folder:
            weakref.finalize(self, shutil.rmtree, folder, True)  # a manager never shut down

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart and self._socket_folder:
            shutil.rmtree(self._socket_folder, ignore_errors=True)


class PrivateSocketKernelManager(_PrivateSockets, KernelManager):
    """jupyter_client's (blocking) KernelManager on private sockets, as nbval uses it."""


class AsyncPrivateSocketKernelManager(_PrivateSockets, AsyncKernelManager):
    """jupyter_client's AsyncKernelManager on private sockets, as papermill (nbclient) uses it."""
