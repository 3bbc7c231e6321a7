"""Domain errors every service raises; entrypoints map them to gRPC/HTTP status.

They live in svckit so that one mapping (in `svckit.grpc.errors`) serves every
service and a handler never imports grpc to refuse a request.
"""

from __future__ import annotations


class DomainError(Exception):
    """A request was refused for a reason the caller can act on."""


class InvalidArgumentError(DomainError):
    """The request itself is malformed or out of range."""


class NotFoundError(DomainError):
    """The named thing does not exist (or the caller may not know it does)."""


class PermissionDeniedError(DomainError):
    """The caller is known but may not do this."""


class FailedPreconditionError(DomainError):
    """The thing exists but is not in a state that allows this."""


class AlreadyExistsError(DomainError):
    """A thing with this identity exists already."""


class DataLossError(DomainError):
    """Stored data no longer matches what was recorded (a hash mismatch)."""


class UnauthenticatedError(DomainError):
    """The caller did not say who it is."""


class TransientError(Exception):
    """Retry later: the failure is expected to pass (a peer down, a lock held)."""


class PermanentError(Exception):
    """Retrying cannot help: the message is invalid for this consumer."""
