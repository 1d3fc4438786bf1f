"""Reaching a port of a task from the host: a forwarder inside the task's network namespace.

A task's network namespace has only loopback, so nothing outside can reach its ports over TCP,
and nothing here ever gets an address off 127.0.0.0/8. Instead `Forwarder.start(pid, port,
socket_path)` runs this file under `nsenter --target PID --net --pid`: it listens on a Unix
socket in the sandbox's state folder (the host's file system: the mount namespace is not
entered) and relays each connection to 127.0.0.1:PORT inside the task. Entering the task's pid
namespace ties the forwarder's life to the task's: when the task's PID 1 ends, the kernel ends
it too. `request(socket_path, ...)` is the host side: one HTTP request through the socket.

Bounds: a connection to the port waits at most CONNECT_TIMEOUT; a relay ends after
IDLE_TIMEOUT idle or MAX_RELAY_TIME in all; at most MAX_CONNECTIONS relays run at once (more
wait in the listen queue).

Run as a script (`python -I -S forwarder.py SOCKET PORT`) it is the forwarder itself: standard
library only, for a short start.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

CONNECT_TIMEOUT = 5.0
IDLE_TIMEOUT = 300.0
MAX_CONNECTIONS = 256
MAX_RELAY_TIME = 3600.0  # no request through a load balancer lasts longer
READY = b"ready\n"
_CHUNK = 65536


class ForwarderError(RuntimeError):
    """The forwarder did not start, or a request through it failed to connect."""


class Forwarder:
    """A running forwarder from `socket_path` to 127.0.0.1:`port` in the task of `pid`."""

    def __init__(self, process: subprocess.Popen[bytes], socket_path: Path, port: int) -> None:
        self.process = process
        self.socket_path = socket_path
        self.port = port

    @classmethod
    def start(cls, pid: int, port: int, socket_path: Path, timeout: float = 10.0) -> Forwarder:
        socket_path.parent.mkdir(parents=True, exist_ok=True)
        socket_path.unlink(missing_ok=True)
        # The socket is bound from its folder, by its bare name: a Unix socket's path is
        # limited to 107 bytes, and state folders can be deeper than that.
        process = subprocess.Popen(
            ["nsenter", f"--target={pid}", "--net", "--pid", "--", sys.executable, "-I", "-S",
             __file__, socket_path.name, str(port)],
            cwd=socket_path.parent, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, start_new_session=True, env={"PATH": "/usr/bin:/bin"})
        forwarder = cls(process, socket_path, port)
        assert process.stdout is not None and process.stderr is not None
        ready = first_line(process.stdout, timeout)
        if ready != READY:
            forwarder.stop(keep_stderr=True)  # ended first: a read cannot wait on it
            why = process.stderr.read(4096).decode(errors="replace").strip()
            process.stderr.close()
            raise ForwarderError(f"forwarder to port {port} of task process {pid} did not "
                                 f"start: {why or 'it ended without a word'}")
        return forwarder

    def stop(self, timeout: float = 5.0, *, keep_stderr: bool = False) -> None:
        """End the forwarder and nsenter (one process group) and remove the socket;
        `keep_stderr` leaves its error output to be read (a failed start explains itself)."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout)
        for stream in (self.process.stdout, None if keep_stderr else self.process.stderr):
            if stream:
                stream.close()
        self.socket_path.unlink(missing_ok=True)


def connect(socket_path: Path, timeout: float) -> socket.socket:
    """A stream socket connected to `socket_path`, however long the path is."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    folder = os.open(socket_path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        # The folder's descriptor gives a short path to the socket, whatever its real length.
        sock.connect(f"/proc/self/fd/{folder}/{socket_path.name}")
    except OSError as error:
        sock.close()
        raise ForwarderError(f"cannot connect to the forwarder {socket_path}: {error}") from error
    finally:
        os.close(folder)
    return sock


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, socket_path: Path, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self) -> None:
        self.sock = connect(self.socket_path, self.timeout)


def request(socket_path: Path, method: str = "GET", target: str = "/", *,
            headers: dict[str, str] | None = None, body: bytes | None = None,
            timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 request through the forwarder: (status, headers, body)."""
    connection = _UnixHTTPConnection(socket_path, timeout)
    try:
        connection.request(method, target, body=body, headers=headers or {})
        answer = connection.getresponse()
        return answer.status, dict(answer.getheaders()), answer.read()
    finally:
        connection.close()


def first_line(stream, timeout: float) -> bytes:
    """The first line of `stream`, or b"" if none came within `timeout`."""
    line: list[bytes] = []
    reader = threading.Thread(target=lambda: line.append(stream.readline(64)), daemon=True)
    reader.start()
    reader.join(timeout)
    return line[0] if line else b""


# --- the forwarder itself, inside the task's network namespace -----------------------------


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    deadline = time.monotonic() + MAX_RELAY_TIME
    try:
        while time.monotonic() < deadline:  # or until end of file, or the idle timeout
            data = await asyncio.wait_for(source.read(_CHUNK), IDLE_TIMEOUT)
            if not data:
                break
            sink.write(data)
            await sink.drain()
    except (TimeoutError, OSError):
        pass
    finally:
        if sink.can_write_eof():
            with contextlib.suppress(OSError):
                sink.write_eof()


async def _relay(port: int, slots: asyncio.Semaphore, client_reader: asyncio.StreamReader,
                 client_writer: asyncio.StreamWriter) -> None:
    async with slots:
        try:
            task_reader, task_writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", port), CONNECT_TIMEOUT)
        except (TimeoutError, OSError):
            client_writer.close()  # as a refused connection: the caller sees no answer
            return
        await asyncio.gather(_pipe(client_reader, task_writer), _pipe(task_reader, client_writer))
        for writer in (task_writer, client_writer):
            writer.close()


async def _serve(socket_name: str, port: int) -> None:
    slots = asyncio.Semaphore(MAX_CONNECTIONS)
    server = await asyncio.start_unix_server(
        lambda reader, writer: _relay(port, slots, reader, writer), path=socket_name)
    os.chmod(socket_name, 0o600)
    sys.stdout.buffer.write(READY)
    sys.stdout.flush()
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    asyncio.run(_serve(sys.argv[1], int(sys.argv[2])))
