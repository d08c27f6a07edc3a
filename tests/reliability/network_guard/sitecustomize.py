"""A socket guard: any connection that is not to this machine is refused and recorded.

Put this folder first on PYTHONPATH of a child process with NETWORK_GUARD_LOG=<file>: Python
imports `sitecustomize` at start-up, so the guard is in place before cw_desktop or any library is
imported. In-process tests call `install(record)` (see tests/reliability/test_no_network.py).
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable
from typing import Any

LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", ""}


def is_local(host: Any) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).strip("[]")
    if host.lower() in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def install(record: Callable[[str], None]) -> Callable[[], None]:
    """Patch socket connect/getaddrinfo; returns a function that undoes it."""
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex
    original_getaddrinfo = socket.getaddrinfo

    def check(sock: socket.socket, address: Any) -> None:
        if sock.family == getattr(socket, "AF_UNIX", None):
            return
        host = address[0] if isinstance(address, tuple) else address
        if not is_local(host):
            record(f"connect {address!r}")
            raise OSError(f"network guard: connection to {address!r} refused (the app must stay offline)")

    def connect(self: socket.socket, address: Any) -> None:
        check(self, address)
        return original_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check(self, address)
        return original_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not is_local(host):
            record(f"getaddrinfo {host!r}")
            raise socket.gaierror(socket.EAI_NONAME, f"network guard: name lookup of {host!r} refused")
        return original_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo

    def uninstall() -> None:
        socket.socket.connect = original_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = original_connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = original_getaddrinfo

    return uninstall


def _append_to_log(line: str) -> None:
    with open(os.environ["NETWORK_GUARD_LOG"], "a", encoding="utf-8") as log:
        log.write(line + "\n")


if os.environ.get("NETWORK_GUARD_LOG"):
    install(_append_to_log)
