"""Evidence files in the NATS JetStream object store (same server as the
events): put, read back and the store's own digest of an object."""

from __future__ import annotations

import base64
import contextlib

from nats.js import JetStreamContext
from nats.js.api import ObjectStoreConfig, StorageType
from nats.js.errors import (
    BadRequestError,
    BucketNotFoundError,
    DigestMismatchError,
    ObjectNotFoundError,
)
from nats.js.object_store import ObjectStore

from svckit.logging import get_logger
from workorders.domain.evidence import EvidenceIntegrityError

log = get_logger(__name__)

_DIGEST_PREFIX = "SHA-256="


class NatsEvidenceStore:
    """One bucket (stream `OBJ_<bucket>`, file storage); keys are `<order>/<evidence>`."""

    def __init__(self, store: ObjectStore, bucket: str) -> None:
        self._store = store
        self.bucket = bucket

    @classmethod
    async def open(
        cls, js: JetStreamContext, bucket: str, *, replicas: int = 1
    ) -> NatsEvidenceStore:
        """Bind to the bucket, creating it on first start (replicas racing to
        create it bind to the winner's) with as many copies as the event
        streams: evidence is worth no less than the events citing it."""
        try:
            store = await js.object_store(bucket)
        except BucketNotFoundError:
            config = ObjectStoreConfig(
                description="CityOps work-order evidence (photos, documents)",
                storage=StorageType.FILE,
                replicas=replicas,
            )
            try:
                store = await js.create_object_store(bucket, config=config)
            except BadRequestError:
                store = await js.object_store(bucket)
            log.info("evidence bucket created", bucket=bucket)
        return cls(store, bucket)

    async def put(self, key: str, data: bytes) -> None:
        await self._store.put(key, data)

    async def read(self, key: str) -> bytes:
        """The object's bytes; EvidenceIntegrityError when it is gone or its
        chunks no longer match the digest the store recorded."""
        try:
            result = await self._store.get(key)
        except ObjectNotFoundError as exc:
            raise EvidenceIntegrityError(f"evidence object {key} is missing") from exc
        except DigestMismatchError as exc:
            raise EvidenceIntegrityError(f"evidence object {key} is corrupted") from exc
        return result.data or b""

    async def sha256(self, key: str) -> str | None:
        """The SHA-256 (hex) the store recorded for the object, None if it is gone."""
        try:
            info = await self._store.get_info(key)
        except ObjectNotFoundError:
            return None
        digest = (info.digest or "").removeprefix(_DIGEST_PREFIX)
        if not digest:
            return None
        # Other clients write the digest without base64 padding.
        return base64.urlsafe_b64decode(digest + "=" * (-len(digest) % 4)).hex()

    async def delete(self, key: str) -> None:
        """Best effort: an orphan left behind costs space, not correctness."""
        with contextlib.suppress(ObjectNotFoundError):
            await self._store.delete(key)
