"""What every request carries, the same for both clients: the key and who is calling.

The key goes as `Authorization: Bearer <key>`, one of the three forms the
gateway accepts (the document's `Bearer` security scheme).
"""

from __future__ import annotations

from typing import Any

from persona_client.calls import Call

VERSION = "0.1.0"


def headers_for(api_key: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {api_key}",
        "Accept": "application/json",
        "User-Agent": f"persona-client/{VERSION}",
    }


def request_args(base_url: str, headers: dict[str, str], call: Call[Any]) -> dict[str, Any]:
    """Keyword arguments of `httpx.Client.request` (and the async one's) for `call`."""
    return {
        "method": call.method,
        "url": base_url + call.path,
        "params": call.params,
        "content": call.body,
        "headers": {**headers, **call.headers},
    }
