"""POST a signed webhook with httpx and say what came back."""

from __future__ import annotations

import time

import httpx

from workorders.domain.notifications import AttemptResult

MAX_ERROR_CHARS = 500


class HttpWebhookSender:
    """One pooled client for every delivery; never follows redirects (a
    signed body must not be replayed to wherever a receiver points)."""

    def __init__(self, timeout_seconds: float) -> None:
        self._client = httpx.AsyncClient(timeout=timeout_seconds, follow_redirects=False)

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> AttemptResult:
        started = time.perf_counter()
        try:
            reply = await self._client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return AttemptResult(
                None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS], _ms(started)
            )
        error = "" if reply.is_success else reply.text[:MAX_ERROR_CHARS]
        return AttemptResult(reply.status_code, error, _ms(started))

    async def close(self) -> None:
        await self._client.aclose()


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
