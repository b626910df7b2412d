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


class _PrivateSockets:
    """Mixin: the ``ipc`` transport, its socket files in a fresh folder under the temporary
    directory (a short path: a Unix socket's path may not exceed about 100 characters), removed
    when the manager goes."""

    def __init__(self, **kwargs):
        folder = None
        if UNIX_SOCKETS and "transport" not in kwargs:
            folder = tempfile.mkdtemp(prefix="avc-kernel-")
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
