"""Fake of ``google.colab._message``: Colab's request channel to the browser, scripted.

Mirrors colabtools ``google/colab/_message.py``: ``MessageError(errors.Error)``,
``send_request`` (counts message ids), ``read_reply_from_input`` (polls every 25 ms until a
``colab_reply`` for the id arrives; raises ``MessageError(reply['error'])`` on an error reply;
returns ``reply.get('data')``; returns ``None`` when ``timeout_sec`` passes with no reply, and
waits FOREVER when ``timeout_sec`` is falsy, e.g. ``int(999 / 1000) == 0``) and
``blocking_request``.

What the real module reads from the kernel's stdin socket (the browser's answer) comes from
the knob :data:`AUTH_ANSWER` instead:

- ``"allow"``: the user allowed access; the credential is propagated (``granted``).
- ``"refuse"``: the frontend answers with ``{'error': REFUSAL}``, so ``MessageError`` is
  raised, as Colab does when the user closes or refuses the pop-up.
- ``"no answer"``: nothing ever arrives (a frontend that cannot show the prompt, e.g. VS
  Code): the request times out and returns ``None``, and the caller goes on unauthorised.

Like the real one, it is not thread-safe; every request records the thread it ran on.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from google.colab import errors

AUTH_ANSWER = "allow"
"""How the simulated browser answers auth requests: "allow", "refuse" or "no answer"."""
REFUSAL = "Error: credential propagation was unsuccessful"
"""The error text Colab's frontend sends back when authorisation is refused."""
FOREVER_GUARD_S = 60.0
"""Fake-only: where the real call would block forever (falsy timeout, no answer), raise after this."""

requests: list[dict[str, Any]] = []
"""Every request "sent" to the frontend: type, request, timeout_sec, thread name."""
granted: set[str] = set()
"""Auth types whose credentials reached the runtime (``dfs_ephemeral`` after an "allow")."""

_NOT_READY = object()
_msg_id = 0


class MessageError(errors.Error):
    """Thrown on error response from frontend."""


def _reset() -> None:
    global AUTH_ANSWER, _msg_id
    AUTH_ANSWER = "allow"
    _msg_id = 0
    requests.clear()
    granted.clear()


def _read_next_input_message() -> object:
    """The simulated browser's next message on the stdin channel (real: a zmq recv)."""
    if not requests or AUTH_ANSWER == "no answer":
        return _NOT_READY
    last = requests[-1]
    reply: dict[str, Any] = {"type": "colab_reply", "colab_msg_id": last["id"]}
    if AUTH_ANSWER == "refuse":
        reply["error"] = REFUSAL
    elif AUTH_ANSWER == "allow":
        auth_type = (last["request"] or {}).get("authType") if isinstance(last["request"], dict) else None
        if auth_type:
            granted.add(auth_type)
    else:
        raise AssertionError(f"fake _message: unknown AUTH_ANSWER {AUTH_ANSWER!r}")
    return reply


def read_reply_from_input(message_id: int, timeout_sec: float | None = None) -> Any:
    """Reads a reply to the message from the stdin channel (see the module docstring)."""
    deadline = None
    if timeout_sec:
        deadline = time.time() + timeout_sec
    guard = time.time() + FOREVER_GUARD_S
    while not deadline or time.time() < deadline:
        if deadline is None and time.time() > guard:
            raise RuntimeError(
                f"fake _message: read_reply_from_input(timeout_sec={timeout_sec!r}) with no answer "
                "blocks forever in real Colab"
            )
        reply = _read_next_input_message()
        if reply is _NOT_READY or not isinstance(reply, dict):
            time.sleep(0.025)
            continue
        if reply.get("type") == "colab_reply" and reply.get("colab_msg_id") == message_id:
            if "error" in reply:
                raise MessageError(reply["error"])
            return reply.get("data", None)
    return None


def send_request(
    request_type: str, request_body: Any, parent: Any = None, expect_reply: bool = True
) -> int | None:
    """Sends the given message to the frontend without waiting for a reply."""
    global _msg_id
    request_id = None
    if expect_reply:
        _msg_id += 1
        request_id = _msg_id
    requests.append(
        {
            "id": request_id,
            "type": request_type,
            "request": request_body,
            "parent": parent,
            "thread": threading.current_thread().name,
        }
    )
    return request_id


def blocking_request(
    request_type: str, request: Any = "", timeout_sec: float | None = 5, parent: Any = None
) -> Any:
    """Calls the front end with a request, and blocks until a reply is received."""
    request_id = send_request(request_type, request, parent=parent, expect_reply=True)
    requests[-1]["timeout_sec"] = timeout_sec
    return read_reply_from_input(request_id, timeout_sec)  # type: ignore[arg-type]
