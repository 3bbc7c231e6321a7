"""uvicorn embedded in a service process, started and stopped by its ServiceRuntime."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

from svckit.logging import get_logger

log = get_logger(__name__)


class _EmbeddedServer(uvicorn.Server):
    """uvicorn minus its signal handling: the ServiceRuntime owns SIGINT/SIGTERM and
    stops this server in its shutdown order; uvicorn re-raising a caught signal
    after exit would interfere with that."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class HttpServer:
    """Binds the socket itself, so a busy port is an ordinary OSError from `start()`
    (uvicorn would call sys.exit inside a task) and port 0 yields the real `port`."""

    def __init__(self, app: FastAPI, host: str, port: int) -> None:
        self._app = app
        self.host = host
        self.port = port
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def started(self) -> bool:
        """True once the server accepts requests (and `port` is the bound one)."""
        return self._server is not None and self._server.started

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        sock = _bind(self.host, self.port)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app,
            host=self.host,
            port=self.port,
            log_config=None,
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=5,
            http="httptools",
            # Longer than clients keep an idle connection (httpx: 5 s), so a
            # client never reuses one the server is closing at that moment.
            timeout_keep_alive=75,
        )
        self._server = _EmbeddedServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="http")
        while not self._server.started:
            if self._task.done():
                await self._task
                raise RuntimeError("HTTP server exited during start-up")
            await asyncio.sleep(0.01)
        log.info("http listening", url=self.url)

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        await self._task


def _bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket created with proto=IPPROTO_TCP.

    asyncio sets TCP_NODELAY on accepted connections only when the socket's
    proto is IPPROTO_TCP; `socket.create_server` leaves it 0, and every
    response then waits ~40 ms on Nagle and delayed ACKs.
    """
    family, _, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, socket.SOCK_STREAM, proto or socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock
