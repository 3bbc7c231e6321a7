"""Making an event type this build has no code for decodable, so the ledger
records it instead of svckit dead-lettering it as undecodable.

The type is registered in the protobuf default pool as a message with no
known fields: decoding keeps every field as an unknown field, re-serializing
gives the same bytes, and the summary falls back to the type's short name.
A producer newer than audit never loses an event from the ledger.
"""

from __future__ import annotations

import re

from google.protobuf import descriptor_pb2, descriptor_pool

from svckit.logging import get_logger

log = get_logger(__name__)

_TYPE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
PLACEHOLDER_FILES = "cityops_audit_placeholder"


def ensure_decodable(type_name: str) -> bool:
    """True when `type_name` can be decoded (now or already); False for a
    name that is not a protobuf message name (left to svckit to refuse)."""
    pool = descriptor_pool.Default()
    if _known(pool, type_name):
        return True
    if not _TYPE_NAME.match(type_name):
        return False
    package, _, name = type_name.rpartition(".")
    if _known(pool, package):  # a nested name under a known message: not ours to invent
        return False
    placeholder = descriptor_pb2.FileDescriptorProto(
        name=f"{PLACEHOLDER_FILES}/{type_name}.proto", package=package, syntax="proto3"
    )
    placeholder.message_type.add(name=name)
    try:
        pool.AddSerializedFile(placeholder.SerializeToString())
    except (TypeError, ValueError) as exc:
        log.warning("cannot register unknown event type", event_type=type_name, error=str(exc))
        return False
    log.warning("recording an event type this build does not know", event_type=type_name)
    return True


def is_placeholder(type_name: str) -> bool:
    """Whether the type was registered here (its fields are unknown to audit)."""
    try:
        found = descriptor_pool.Default().FindMessageTypeByName(type_name)
    except KeyError:
        return False
    return bool(found.file.name.startswith(PLACEHOLDER_FILES + "/"))


def _known(pool: descriptor_pool.DescriptorPool, name: str) -> bool:
    try:
        pool.FindMessageTypeByName(name)
    except KeyError:
        return False
    return True
