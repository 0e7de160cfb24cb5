"""Every operation of the app's OpenAPI document has a method in both clients, and no
method sends an operation the document no longer has: a route added without its SDK
method fails here."""

from __future__ import annotations

import inspect
from functools import cache
from typing import Any

from persona_client import AsyncPersona, Persona, calls

from api_gateway import openapi
from api_gateway.main import create_app


@cache
def document() -> dict[str, Any]:
    return openapi.document(create_app())


def operations() -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, ops in document()["paths"].items() for method in ops}


def test_every_operation_of_the_document_has_an_sdk_call() -> None:
    sent = set(calls.OPERATIONS.values())
    assert sorted(operations() - sent) == [], "operations without an SDK method"
    assert sorted(sent - operations()) == [], "SDK methods for operations that are gone"


def test_both_clients_have_a_method_for_each_call_with_the_same_signature() -> None:
    for name in calls.OPERATIONS:
        blocking, awaited = getattr(Persona, name, None), getattr(AsyncPersona, name, None)
        assert callable(blocking), f"Persona.{name} is missing"
        assert inspect.iscoroutinefunction(awaited), f"AsyncPersona.{name} is missing"
        builder = inspect.signature(getattr(calls, name)).parameters
        assert list(inspect.signature(blocking).parameters)[1:] == list(builder), name


def test_the_clients_offer_the_same_methods() -> None:
    def public(cls: type) -> dict[str, inspect.Signature]:
        return {
            name: inspect.signature(member).replace(return_annotation=inspect.Signature.empty)
            for name, member in vars(cls).items()
            if callable(member) and not name.startswith("_")
        }

    blocking, awaited = public(Persona), public(AsyncPersona)
    blocking["aclose"] = blocking.pop("close")
    assert blocking == awaited
