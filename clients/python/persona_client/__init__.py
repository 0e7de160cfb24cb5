"""The Python client of Persona's API. A map of the modules, in the order a call moves:

- `client`, `async_client`: `Persona` and `AsyncPersona`, one method per operation;
- `calls`: each operation as a `Call` (path, body checked by its request model,
  reader of its response model); `batching`: `ingest_many`'s stable ids and
  batches; `webhooks`: signatures for `send_webhook`; `jobs`: `wait_for_job`;
- `wire`: the headers every request carries; `retries`: what is sent again, when;
- `errors`: the exception of every failed answer, with the envelope's fields;
- `models`: the request and response models, generated from the OpenAPI document.

Its only dependencies are httpx and pydantic.
"""

from persona_client import models
from persona_client.async_client import AsyncPersona
from persona_client.batching import IngestSummary, stable_id
from persona_client.client import Persona
from persona_client.errors import (
    BadRequest,
    Conflict,
    ConnectionFailed,
    Forbidden,
    JobFailed,
    JobTimeout,
    NotFound,
    PayloadTooLarge,
    PersonaError,
    RateLimited,
    ServerError,
    Unauthorized,
    Unavailable,
    UnprocessableEntity,
)
from persona_client.retries import NEVER, Retries
from persona_client.wire import VERSION as __version__

__all__ = [
    "NEVER",
    "AsyncPersona",
    "BadRequest",
    "Conflict",
    "ConnectionFailed",
    "Forbidden",
    "IngestSummary",
    "JobFailed",
    "JobTimeout",
    "NotFound",
    "PayloadTooLarge",
    "Persona",
    "PersonaError",
    "RateLimited",
    "Retries",
    "ServerError",
    "Unauthorized",
    "Unavailable",
    "UnprocessableEntity",
    "__version__",
    "models",
    "stable_id",
]
