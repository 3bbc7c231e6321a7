"""On a NATS cluster the evidence bucket is replicated like the event streams:
losing one node loses no photo."""

from __future__ import annotations

import nats

from svckit.natsserver import NatsCluster
from svckit.testing.polling import eventually
from workorders.adapters.object_store import NatsEvidenceStore


async def test_the_bucket_has_three_copies_and_survives_a_node(nats_cluster: NatsCluster) -> None:
    nc = await nats.connect(servers=nats_cluster.url.split(","))
    try:
        js = nc.jetstream()

        async def opened() -> NatsEvidenceStore | None:
            try:
                return await NatsEvidenceStore.open(js, "cityops-evidence", replicas=3)
            except Exception:
                return None  # the cluster is still electing its meta leader

        store = await eventually(opened, timeout=30, every=0.5)
        info = await js.stream_info("OBJ_cityops-evidence")
        assert info.config.num_replicas == 3
        await store.put("WO-1/ev-1", b"\xff\xd8 after photo")
        nats_cluster.nodes[0].stop()

        async def read_back() -> bytes | None:
            try:
                return await store.read("WO-1/ev-1")
            except Exception:
                return None

        assert await eventually(read_back, timeout=30, every=0.5) == b"\xff\xd8 after photo"
    finally:
        await nc.close()
