"""`persona-client` (the console script of the SDK's distribution) against the real
system: imports from JSONL and CSV, rejects with reasons, a resumed import adding
nothing twice, `--wait` returning once searchable, the export and the job list; and the
SDK methods under them (`list_jobs`/`iter_jobs`, `export_user`/`iter_export`)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import uuid
from pathlib import Path

from persona_client import Persona

from tests.conftest import ChildProcess, Tenant
from tests.helpers import events

SCRIPT = Path(sys.executable).parent / "persona-client"


def cli(gateway: str, tenant: Tenant, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PERSONA_URL": gateway, "PERSONA_API_KEY": tenant.key, "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=300
    )


def totals(result: subprocess.CompletedProcess[str]) -> dict:
    assert result.returncode == 0, result.stdout + result.stderr
    return dict(json.loads(result.stdout.splitlines()[-1]))


def line(content: str, **extra: str) -> str:
    return json.dumps(
        {"type": "note", "timestamp": "2025-10-01T09:00:00Z", "content": content, **extra}
    )


def item_count(persona: Persona, user_id: str) -> int:
    return sum(1 for r in persona.iter_export(user_id) if r["kind"] == "item")


def test_jsonl_import_rejects_and_waits_until_searchable(
    gateway: str, tenant: Tenant, worker: ChildProcess, persona: Persona, tmp_path: Path
) -> None:
    user, other = f"imp-{uuid.uuid4().hex[:8]}", f"imp-{uuid.uuid4().hex[:8]}"
    source = tmp_path / "events.jsonl"
    source.write_text(
        "\n".join(
            [
                line("Books aisle seats on long flights."),
                "{not json",
                line("Drinks oat milk."),
                json.dumps({"type": "note", "timestamp": "2025-10-01T09:00:00Z"}),  # no content
                line("Lives in Lisbon.", user_id=other),
                "",
            ]
        )
    )
    result = cli(gateway, tenant, "import", str(source), "--user-id", user, "--wait", "--json")
    assert totals(result) | {"rejects_file": None} == {
        "accepted": 3,
        "duplicates": 0,
        "rejected": 2,
        "failed_jobs": 0,
        "rejects_file": None,
    }
    rejects = [json.loads(x) for x in Path(f"{source}.rejects.jsonl").read_text().splitlines()]
    assert [r["line"] for r in rejects] == [2, 4]
    assert "invalid JSON" in rejects[0]["reason"]
    assert "content" in rejects[1]["reason"]
    # --wait returned: every job has indexed its items, so the user is searchable now
    assert all(j.status.value == "succeeded" for j in persona.iter_jobs(user_id=user))
    found = persona.chunks(user, "oat milk", top_k=3).chunks
    assert any("oat milk" in c.text for c in found)
    assert item_count(persona, other) == 1


def test_csv_import_with_a_column_map(
    gateway: str, tenant: Tenant, persona: Persona, tmp_path: Path
) -> None:
    user = f"csv-{uuid.uuid4().hex[:8]}"
    source = tmp_path / "export.csv"
    source.write_text(
        "id,body,date,who\n"
        'm1,"Moved to Porto,\nlast spring.",2025-04-01T00:00:00Z,' + user + "\n"
        "m2,Runs on Sundays.,2025-04-02T00:00:00Z," + user + "\n"
        "m3,,2025-04-03T00:00:00Z," + user + "\n"
    )
    mapping = "event_id=id,content=body,timestamp=date,user_id=who"
    result = cli(gateway, tenant, "import", str(source), "--map", mapping, "--json")
    assert totals(result)["accepted"] == 2
    assert totals(result)["rejected"] == 1
    exported = [r for r in persona.iter_export(user) if r["kind"] == "item"]
    assert {r["id"]: r["content"] for r in exported} == {
        "m1": "Moved to Porto,\nlast spring.",
        "m2": "Runs on Sundays.",
    }
    rejects = Path(f"{source}.rejects.jsonl").read_text().splitlines()
    assert [json.loads(r)["line"] for r in rejects] == [5]


def test_a_rerun_after_an_interruption_adds_nothing_twice(
    gateway: str, tenant: Tenant, persona: Persona, tmp_path: Path
) -> None:
    user = f"res-{uuid.uuid4().hex[:8]}"
    source = tmp_path / "big.jsonl"
    lines = [line(f"Fact number {i}.") + "\n" for i in range(6)]
    source.write_text("".join(lines[:3]))  # interrupted: only the first half was processed
    first = totals(cli(gateway, tenant, "import", str(source), "--user-id", user, "--json"))
    assert (first["accepted"], first["duplicates"]) == (3, 0)
    state = json.loads(Path(f"{source}.persona-import.json").read_text())
    assert state["offset"] == source.stat().st_size

    source.write_text("".join(lines))  # the whole file: the re-run skips what was accepted
    again = cli(gateway, tenant, "import", str(source), "--user-id", user, "--json")
    assert "resuming after line 3" in again.stderr
    assert (totals(again)["accepted"], totals(again)["duplicates"]) == (6, 0)
    assert item_count(persona, user) == 6

    Path(f"{source}.persona-import.json").unlink()  # no state: the stable ids still hold
    fresh = totals(cli(gateway, tenant, "import", str(source), "--user-id", user, "--json"))
    assert (fresh["accepted"], fresh["duplicates"]) == (0, 6)
    assert item_count(persona, user) == 6


def test_export_and_jobs_commands(
    gateway: str, tenant: Tenant, persona: Persona, tmp_path: Path
) -> None:
    user = f"exp-{uuid.uuid4().hex[:8]}"
    persona.register(user, traits={"city": "Lisbon"})
    accepted = persona.ingest(user, events=events(["Likes jazz."]))
    out = tmp_path / "user.ndjson"
    result = cli(gateway, tenant, "export", user, "-o", str(out))
    assert result.returncode == 0, result.stderr
    records = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["kind"] for r in records] == ["user", "item", "job"]
    assert records[0]["metadata"] == {"city": "Lisbon"}
    assert records[1]["content"] == "Likes jazz."
    assert (out.stat().st_mode & 0o777) == 0o600

    buffer = io.BytesIO()
    assert persona.export_user(user, buffer) == 3
    assert buffer.getvalue() == out.read_bytes()

    listed = cli(gateway, tenant, "jobs", "--user-id", user, "--json")
    assert listed.returncode == 0, listed.stderr
    assert [json.loads(x)["job_id"] for x in listed.stdout.splitlines()] == [accepted.job_id]
    assert cli(gateway, tenant, "export", "nobody-at-all", "-o", str(out)).returncode == 1


def test_iter_jobs_follows_the_cursor(persona: Persona, user_id: str) -> None:
    ids = [
        persona.ingest(user_id, events=events([f"f{i}"], prefix=f"e{i}")).job_id for i in range(3)
    ]
    page = persona.list_jobs(user_id=user_id, limit=2)
    assert len(page.jobs) == 2
    assert page.next_cursor
    assert [j.job_id for j in persona.iter_jobs(user_id=user_id, limit=1)] == ids[::-1]
