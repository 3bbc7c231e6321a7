"""Server-sent events: small JSON notes that a case or order changed, fed
from NATS, filtered to what the logged-in person may know."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from console.domain.access import Principal
from console.entrypoints.web.deps import principal, web

router = APIRouter(prefix="/api", tags=["live"])


@router.get(
    "/events",
    summary="Live updates (text/event-stream)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def events(
    request: Request, who: Annotated[Principal, Depends(principal)]
) -> StreamingResponse:
    """Each event: `event: <kind>` (CaseFiled, WorkOrderAccepted, …, or Resync
    when this stream fell behind) and `data: {subject, kind, case_id, order_id,
    department_id, state, at}`. A comment line every heartbeat keeps proxies open."""
    app = web(request)

    async def stream() -> AsyncIterator[str]:
        yield "retry: 3000\n\n"
        async for event in app.hub.listen(who, app.options.heartbeat_seconds):
            if await request.is_disconnected():
                return
            if event is None:
                yield ": heartbeat\n\n"
            else:
                yield f"event: {event.kind}\ndata: {json.dumps(event.to_json(), ensure_ascii=False)}\n\n"

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
