"""A network link with a real round trip, for benchmarks: two namespaces joined by a delay line.

This kernel has no ``netem``, so the delay is made in user space: one TUN device in each of
two network namespaces that this module creates, and a small process that reads every packet
from one TUN device and writes it to the other ``delay`` seconds later (each way, so the round
trip is twice that). Only addresses inside these private namespaces are used; the machine's own
network namespace gets no device, address or route.

    with DelayNet(delay=0.020) as net:          # 40 ms round trip
        net.spawn_server([...])                  # a server inside the server namespace
        net.enter_client()                       # this thread (and its children) join the client side
        ...                                      # reach net.server_addr through the delay line

Needs root, ``ip`` (iproute2), ``nsenter`` and ``/dev/net/tun``. Run as a script it is the delay
process itself (``python _delayline.py NS_A DEV_A NS_B DEV_B DELAY``).
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import fcntl
import os
import select
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
CLONE_NEWNET = 0x40000000
NETNS_DIR = "/run/netns"
MTU = 64000
"""Large packets: the delay process moves few of them, so it is never the bottleneck."""


def setns(name: str) -> None:
    """Move the calling thread into the network namespace ``name`` (children inherit it)."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(os.path.join(NETNS_DIR, name), os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), name)
    finally:
        os.close(fd)


def open_tun(name: str) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def pump(fd_a: int, fd_b: int, delay: float, stop_fd: int) -> None:
    """Forward packets a→b and b→a, each after ``delay`` s; return when ``stop_fd`` closes."""
    other = {fd_a: fd_b, fd_b: fd_a}
    queues: dict[int, collections.deque[tuple[float, bytes]]] = {
        fd_a: collections.deque(),
        fd_b: collections.deque(),
    }
    poller = select.epoll()
    for fd in (fd_a, fd_b, stop_fd):
        poller.register(fd, select.EPOLLIN)
    read, write, now_fn = os.read, os.write, time.monotonic
    while True:
        now = now_fn()
        next_due = None
        for src, queue in queues.items():
            dst = other[src]
            while queue and queue[0][0] <= now:
                packet = queue.popleft()[1]
                with contextlib.suppress(OSError):  # a full queue drops the packet, like a real link
                    write(dst, packet)
            if queue and (next_due is None or queue[0][0] < next_due):
                next_due = queue[0][0]
        timeout = -1.0 if next_due is None else max(0.0, next_due - now)
        for fd, _ in poller.poll(timeout):
            if fd == stop_fd:
                return
            due = now_fn() + delay
            queue = queues[fd]
            for _ in range(512):
                try:
                    queue.append((due, read(fd, 65536)))
                except BlockingIOError:
                    break


def _delay_main(argv: Sequence[str]) -> int:
    ns_a, dev_a, ns_b, dev_b, delay = argv
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    setns(ns_a)
    fd_a = open_tun(dev_a)
    setns(ns_b)
    fd_b = open_tun(dev_b)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    pump(fd_a, fd_b, float(delay), sys.stdin.fileno())  # the parent closing our stdin stops us
    return 0


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


class DelayNet:
    """Two private network namespaces (client, server) joined by a delay line; cleans up on exit."""

    client_addr = "10.77.77.1"
    server_addr = "10.77.77.2"

    def __init__(self, delay: float = 0.020, tag: str | None = None) -> None:
        tag = tag or str(os.getpid())
        self.delay = delay
        self.client_ns, self.server_ns = f"dwb-c-{tag}", f"dwb-s-{tag}"
        self._pump: subprocess.Popen[bytes] | None = None
        self._children: list[subprocess.Popen[bytes]] = []
        self._own_ns: int | None = None

    @staticmethod
    def available() -> str:
        """Empty when this machine can build the link; else why not."""
        if os.geteuid() != 0:
            return "needs root (network namespaces and TUN devices)"
        if not os.path.exists("/dev/net/tun"):
            return "needs /dev/net/tun"
        for program in ("ip", "nsenter"):
            if shutil.which(program) is None:
                return f"needs {program}"
        return ""

    def __enter__(self) -> DelayNet:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        for ns in (self.client_ns, self.server_ns):
            _ip("netns", "add", ns)
            _ip("-n", ns, "link", "set", "lo", "up")
        self._pump = subprocess.Popen(
            [
                sys.executable,
                os.path.abspath(__file__),
                self.client_ns,
                "dwc0",
                self.server_ns,
                "dws0",
                str(self.delay),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self._pump.stdout is not None
        if self._pump.stdout.readline().strip() != b"ready":
            raise RuntimeError("the delay line did not start")
        for ns, dev, addr in (
            (self.client_ns, "dwc0", self.client_addr),
            (self.server_ns, "dws0", self.server_addr),
        ):
            _ip("-n", ns, "addr", "add", f"{addr}/30", "dev", dev)
            _ip("-n", ns, "link", "set", dev, "mtu", str(MTU), "txqueuelen", "10000", "up")

    def spawn_server(self, argv: Sequence[str], *, quiet: bool = True) -> subprocess.Popen[bytes]:
        """Start a program inside the server namespace (stopped and reaped on close)."""
        child = subprocess.Popen(
            ["nsenter", f"--net={NETNS_DIR}/{self.server_ns}", *argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL if quiet else None,
        )
        self._children.append(child)
        return child

    def enter_client(self) -> None:
        """Put the calling thread (and what it starts from now on) in the client namespace."""
        if self._own_ns is None:
            self._own_ns = os.open(f"/proc/self/task/{threading.get_native_id()}/ns/net", os.O_RDONLY)
        setns(self.client_ns)

    def leave_client(self) -> None:
        if self._own_ns is None:
            return
        libc = ctypes.CDLL(None, use_errno=True)
        libc.setns(self._own_ns, CLONE_NEWNET)
        os.close(self._own_ns)
        self._own_ns = None

    def close(self) -> None:
        self.leave_client()
        for child in self._children:
            if child.poll() is None:
                child.terminate()
                try:
                    child.wait(10)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait(5)
        self._children.clear()
        if self._pump is not None:
            assert self._pump.stdin is not None
            with contextlib.suppress(OSError):
                self._pump.stdin.close()
            try:
                self._pump.wait(5)
            except subprocess.TimeoutExpired:
                self._pump.kill()
                self._pump.wait(5)
            if self._pump.stdout is not None:
                self._pump.stdout.close()
            self._pump = None
        for ns in (self.client_ns, self.server_ns):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10, check=False)


if __name__ == "__main__":
    sys.exit(_delay_main(sys.argv[1:]))
