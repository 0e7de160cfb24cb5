"""The one error hierarchy of the domain.

Each error carries a stable machine `code` from the wire contract but no HTTP
status: the gateway maps codes to statuses in one place, workers map
`Retryable` to a retry. Messages are written for the person who sent the input.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from redis import RedisError
from sqlalchemy.exc import InterfaceError, OperationalError


class PersonaError(Exception):
    """Base of every error the domain raises on purpose."""

    code = "SERVER_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(PersonaError):
    """The caller sent something the contract does not allow; nothing was changed."""

    code = "INVALID_REQUEST"


class Unauthorized(PersonaError):
    """No key, or a key that is unknown or revoked."""

    code = "UNAUTHORIZED"


class InvalidSignature(Unauthorized):
    """A webhook message whose signature does not verify (or is too old or too new)."""

    code = "INVALID_SIGNATURE"


class Forbidden(PersonaError):
    """A valid key without the scope the operation needs."""

    code = "FORBIDDEN"


class NotFound(PersonaError):
    code = "NOT_FOUND"


class UserNotFound(NotFound):
    code = "USER_NOT_FOUND"

    def __init__(self, user_id: str) -> None:
        super().__init__(f"No user found with ID {user_id}")
        self.user_id = user_id


class Conflict(PersonaError):
    code = "CONFLICT"


class UserDeleting(Conflict):
    """Writes to a user under deletion are refused so the deletion can win every race."""

    code = "USER_DELETING"

    def __init__(self, user_id: str) -> None:
        super().__init__(f"User {user_id} is being deleted; writes are refused until it is gone")
        self.user_id = user_id


class PayloadTooLarge(PersonaError):
    code = "PAYLOAD_TOO_LARGE"


class RateLimited(PersonaError):
    code = "RATE_LIMITED"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Unavailable(PersonaError):
    """A dependency did not answer in time; the caller may retry."""

    code = "UNAVAILABLE"

    def __init__(self, message: str, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Retryable(PersonaError):
    """A transient failure inside a job (a server restarting, a lock timeout): retry it."""

    code = "SERVER_ERROR"


TRANSIENT: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    RedisError,
    ConnectionError,
    TimeoutError,
)
"""Failures a later attempt can outlive: a server restarting, a connection cut."""


@contextmanager
def transient_is_retryable() -> Iterator[None]:
    """Turn a `TRANSIENT` failure inside the block into `Retryable` (a job's retry);
    anything else propagates as it is, and is permanent."""
    try:
        yield
    except TRANSIENT as exc:  # the driver's text is kept in the chain, for the log only
        raise Retryable(f"a store did not answer ({type(exc).__name__})") from exc


def error_from(code: str, message: str) -> PersonaError:
    """Rebuild a domain error from its code, as it arrives in a worker's reply."""
    for cls in _all_subclasses(PersonaError):
        if cls.code == code and cls.__init__ is PersonaError.__init__:
            return cls(message)
    error = PersonaError(message)
    error.code = code
    return error


def _all_subclasses(cls: type[PersonaError]) -> list[type[PersonaError]]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_all_subclasses(sub)]
    return found
