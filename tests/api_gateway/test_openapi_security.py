"""The OpenAPI document declares the three header forms of a key as security schemes,
alternatives on every authenticated operation, and a key sent in each form as a client
generated from the document sends it is accepted by the running gateway."""

from __future__ import annotations

import httpx

from tests.conftest import Tenant

FORMS = {"ApiKey", "Bearer", "XApiKey"}


def header_for(scheme: dict, key: str) -> dict[str, str]:
    """What a generated client sends for `scheme`, as the scheme's description asks."""
    if scheme["type"] == "http":
        return {"Authorization": f"Bearer {key}"}
    value = f"x-api-key: {key}" if scheme["name"] == "Authorization" else key
    return {scheme["name"]: value}


def test_authenticated_operations_take_any_of_the_three_forms(gateway: str) -> None:
    document = httpx.get(f"{gateway}/openapi.json").json()
    assert set(document["components"]["securitySchemes"]) == FORMS
    for operations in document["paths"].values():
        for operation in operations.values():
            if "security" in operation:
                assert operation["security"] == [{"ApiKey": []}, {"Bearer": []}, {"XApiKey": []}]


def test_a_key_in_each_declared_form_is_accepted(gateway: str, tenant: Tenant) -> None:
    schemes = httpx.get(f"{gateway}/openapi.json").json()["components"]["securitySchemes"]
    for name, scheme in schemes.items():
        headers = header_for(scheme, tenant.key)
        answer = httpx.get(f"{gateway}/v1/end-users/nobody", headers=headers)
        assert answer.status_code == 404, (name, answer.text)
        refused = httpx.get(f"{gateway}/v1/end-users/nobody", headers=header_for(scheme, "pk_no"))
        assert refused.status_code == 401, name
