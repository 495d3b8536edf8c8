"""A minimal client for rclone's remote-control API over a private unix socket.

The socket lives in a 0700 folder, so no password is needed (and none can leak onto a
command line). Used to drain the VFS upload queue before unmounting.
"""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


class RcError(OSError):
    """The rc call failed or the daemon did not answer."""


def rc_call(
    socket_path: str, command: str, params: dict[str, Any] | None = None, timeout: float = 5.0
) -> Any:
    """POST ``command`` to the rclone daemon listening on ``socket_path`` and return its JSON."""
    conn = _UnixHTTPConnection(socket_path, timeout)
    try:
        body = json.dumps(params or {})
        conn.request("POST", f"/{command}", body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        data = json.loads(response.read() or b"{}")
    except (OSError, ValueError, http.client.HTTPException) as exc:
        raise RcError(f"rclone did not answer {command}: {exc}") from exc
    finally:
        conn.close()
    if response.status != 200:
        raise RcError(f"rclone {command} failed: {data.get('error', response.status)}")
    return data
