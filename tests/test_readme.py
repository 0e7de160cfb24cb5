"""The README documents every setting the code reads."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from pipeline.config import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def env_names(model: type[BaseModel], prefix: str = "PERSONA_") -> list[str]:
    names = []
    for name, field in model.model_fields.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            names += env_names(kind, f"{prefix}{name.upper()}_")
        else:
            names.append(f"{prefix}{name.upper()}")
    return names


def test_every_setting_is_in_the_readme_table() -> None:
    missing = [n for n in env_names(Settings) if f"| `{n}` |" not in README]
    assert missing == []


def test_readme_opens_with_the_two_commands() -> None:
    head = "\n".join(README.splitlines()[:8])
    assert "make run" in head
    assert "make test" in head
