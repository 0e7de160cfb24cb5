"""The `persona` command: run the system, migrate, manage API keys, limits and webhooks, and
ask the running system for background work (reindex, repair, summaries rebuild)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from sqlalchemy.orm import Session

from pipeline import keys
from pipeline.config import Settings, get_settings
from pipeline.db.engine import get_engine, session_scope
from pipeline.db.migrate import upgrade
from pipeline.errors import PersonaError
from pipeline.local import remote
from pipeline.local.roles import Role
from pipeline.local.roles import serve as serve_role
from pipeline.logs import configure_logging
from pipeline.webhooks import endpoints, sources
from pipeline.webhooks.schemas import endpoint_out, source_out

app = typer.Typer(help="Persona: a self-hostable personalization API for AI agents.")
keys_app = typer.Typer(help="Create and revoke API keys.")
app.add_typer(keys_app, name="keys")
orgs_app = typer.Typer(help="Per-organization settings: rate limits and plan quotas.")
app.add_typer(orgs_app, name="orgs")
sources_app = typer.Typer(help="Webhook sources: producers that push signed events.")
app.add_typer(sources_app, name="sources")
endpoints_app = typer.Typer(help="Webhook endpoints: where the organization's events go.")
app.add_typer(endpoints_app, name="endpoints")
summaries_app = typer.Typer(help="Stored summaries: compute them again.")
app.add_typer(summaries_app, name="summaries")
jobs_app = typer.Typer(help="Background jobs of the running system.")
app.add_typer(jobs_app, name="jobs")


@contextmanager
def database_url(settings: Settings) -> Iterator[str]:
    """The database to act on: PERSONA_DATABASE_URL, else the one a running `persona run`
    uses, else the embedded PostgreSQL started just for this command."""
    if settings.database.url:
        yield settings.database.url
        return
    from pipeline.local.supervisor import running_urls

    running = running_urls(settings.data_dir.resolve()).get("database_url")
    if running:
        yield running
        return
    from pipeline.local.embedded import EmbeddedPostgres

    postgres = EmbeddedPostgres(settings.data_dir.resolve() / "postgres")
    postgres.start()
    try:
        upgrade(postgres.url)
        yield postgres.url
    finally:
        postgres.stop()


@app.command()
def run() -> None:
    """Start the whole system (embedded servers unless URLs are set) until Ctrl-C."""
    from pipeline.local.supervisor import run as run_system

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    raise typer.Exit(run_system(settings))


@app.command()
def migrate() -> None:
    """Apply the database migrations (the pre-start step of a distributed deployment)."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    upgrade(settings.require_database_url())
    typer.echo("database is at the latest migration")


@app.command()
def serve(
    role: Role,
    queues: Annotated[list[str] | None, typer.Argument(help="A worker's queues.")] = None,
) -> None:
    """Run one process of the distributed shape (gateway, worker on QUEUES, beat) with the
    command line `persona run` gives it: what deploy/ runs in each container."""
    try:
        serve_role(get_settings(), role, queues)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


@keys_app.command("create")
def create_key(
    org: Annotated[str, typer.Option(help="Organization name; created if new.")],
    scopes: Annotated[
        str, typer.Option(help="Comma-separated: read, read_write, admin, operator.")
    ] = ("read_write"),
    name: Annotated[str, typer.Option(help="A label to recognise the key by.")] = "",
) -> None:
    """Create a key and print it. It is shown once: only its hash is stored."""
    settings = get_settings()
    try:
        scope_list = keys.parse_scopes(scopes)
        with database_url(settings) as url, session_scope(get_engine(url)) as session:
            key = keys.create_key(session, org, scope_list, name)
    except PersonaError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(key)


@keys_app.command("revoke")
def revoke_key(
    key: Annotated[str, typer.Argument(help="The key, or the 12-character prefix it starts with.")],
) -> None:
    """Revoke a key: requests with it answer 401 from now on."""
    settings = get_settings()
    try:
        with database_url(settings) as url, session_scope(get_engine(url)) as session:
            count = keys.revoke_key(session, key)
    except PersonaError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"revoked {count} key{'s' if count > 1 else ''}")


@orgs_app.command("limits")
def org_limits(
    org: Annotated[str, typer.Argument(help="Organization name.")],
    per_s: Annotated[float | None, typer.Option(help="Requests per second refilled.")] = None,
    burst: Annotated[int | None, typer.Option(help="Bucket size (largest burst).")] = None,
    plan: Annotated[str | None, typer.Option(help="Plan name, shown with its quotas.")] = None,
    quota_turns: Annotated[int | None, typer.Option(help="Requests per month (UTC).")] = None,
    quota_users: Annotated[int | None, typer.Option(help="Active end users.")] = None,
    reset: Annotated[bool, typer.Option(help="Back to the PERSONA_RATELIMIT_* defaults.")] = False,
) -> None:
    """Set an organization's own rate limit and plan quotas; prints what is stored."""
    from pipeline import limits

    values: dict[str, object] = {
        "rate_limit_per_s": per_s,
        "rate_limit_burst": burst,
        "plan": plan,
        "quota_turns": quota_turns,
        "quota_users": quota_users,
    }
    values = dict.fromkeys(values) if reset else {k: v for k, v in values.items() if v is not None}
    settings = get_settings()
    try:
        with database_url(settings) as url, session_scope(get_engine(url)) as session:
            stored = limits.set_org_limits(session, org, **values)
    except PersonaError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(" ".join(f"{k}={v}" for k, v in stored.items()))


@contextmanager
def in_org(org: str) -> Iterator[tuple[Session, int]]:
    """A transaction on the database and the id of organization `org`; a domain error
    (an unknown organization, a bad argument) is printed and exits with status 2."""
    settings = get_settings()
    try:
        with database_url(settings) as url, session_scope(get_engine(url)) as session:
            yield session, keys.org_id(session, org)
    except PersonaError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from exc


Org = Annotated[str, typer.Option(help="Organization name.")]


def show(model: BaseModel) -> None:
    typer.echo(model.model_dump_json(indent=2))


@sources_app.command("create")
def create_source(
    org: Org,
    name: Annotated[str, typer.Option(help="How the source is known.")],
    mapping: Annotated[
        Path | None, typer.Option(help="A JSON file of JMESPath expressions (see README).")
    ] = None,
) -> None:
    """Register a source and print its secret (shown this once)."""
    with in_org(org) as (session, org_id):
        rules = json.loads(mapping.read_text()) if mapping else None
        row, secret = sources.create(session, org_id, name, rules)
        session.flush()
        show(source_out(row, secret))


@sources_app.command("list")
def list_sources(org: Org) -> None:
    with in_org(org) as (session, org_id):
        for row in sources.listing(session, org_id):
            typer.echo(f"{row.id}  {row.name}  mapping={'yes' if row.mapping else 'no'}")


@sources_app.command("rotate")
def rotate_source(source_id: str, org: Org) -> None:
    """Print a new secret; the old one verifies for PERSONA_WEBHOOKS_ROTATION_GRACE_S."""
    with in_org(org) as (session, org_id):
        grace = get_settings().webhooks.rotation_grace_s
        show(source_out(*sources.rotate(session, org_id, source_id, grace)))


@sources_app.command("delete")
def delete_source(source_id: str, org: Org) -> None:
    with in_org(org) as (session, org_id):
        sources.remove(session, org_id, source_id)
    typer.echo(f"deleted {source_id}")


@endpoints_app.command("create")
def create_endpoint(
    org: Org,
    url: Annotated[str, typer.Option(help="http(s) URL to POST events to.")],
    events: Annotated[str, typer.Option(help="Comma-separated event types.")],
    description: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Register an endpoint and print its secret (shown this once)."""
    with in_org(org) as (session, org_id):
        wanted = [e.strip() for e in events.split(",") if e.strip()]
        allow = get_settings().webhooks.allow_private_urls
        show(endpoint_out(*endpoints.create(session, org_id, url, wanted, description, allow)))


@endpoints_app.command("list")
def list_endpoints(org: Org) -> None:
    with in_org(org) as (session, org_id):
        for row in endpoints.listing(session, org_id):
            state = f"disabled: {row.disabled_reason}" if row.disabled_at else "enabled"
            typer.echo(f"{row.id}  {row.url}  {','.join(row.events)}  {state}")


@endpoints_app.command("delete")
def delete_endpoint(endpoint_id: str, org: Org) -> None:
    with in_org(org) as (session, org_id):
        endpoints.remove(session, org_id, endpoint_id)
    typer.echo(f"deleted {endpoint_id}")


Url = Annotated[
    str | None,
    typer.Option(envvar="PERSONA_URL", help="The gateway; default: the running `persona run`."),
]
ApiKey = Annotated[
    str | None,
    typer.Option(
        envvar="PERSONA_API_KEY", help="A key with the operator scope; default: the bootstrap key."
    ),
]
Detach = Annotated[bool, typer.Option(help="Print the job id and return; the job goes on.")]
UserOption = Annotated[str | None, typer.Option("--user", help="Only this user (by user_id).")]
OrgOption = Annotated[str | None, typer.Option(help="Only this organization (by name).")]


def _ask(
    url: str | None, api_key: str | None, path: str, body: Mapping[str, str | None]
) -> tuple[remote.Remote, dict[str, Any]]:
    """Post a job request to the running system; exits 2 with the server's message."""
    try:
        where = remote.locate(get_settings(), url, api_key)
        return where, remote.call(where, "POST", path, {k: v for k, v in body.items() if v})
    except remote.RemoteError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _follow(where: remote.Remote, job_id: str, detach: bool) -> None:
    """Follow the job with a progress bar until it ends (Ctrl-C detaches), then print its
    result; exits 1 if it failed."""
    follow_up = f"follow it with `persona jobs follow {job_id}`"
    if detach:
        typer.echo(f"job {job_id} queued; {follow_up}")
        return
    try:
        job = remote.follow(where, job_id)
    except KeyboardInterrupt:
        typer.echo(f"\ndetached: job {job_id} goes on; {follow_up}")
        return
    except remote.RemoteError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if job["status"] == "failed":
        typer.echo(f"job {job_id} failed: {job.get('error')}", err=True)
        raise typer.Exit(1)
    typer.echo(json.dumps(job.get("result"), indent=2))


@app.command()
def reindex(
    model: Annotated[
        str | None, typer.Option(help="Switch the whole index to this model (minilm, mpnet).")
    ] = None,
    lexical: Annotated[
        str | None,
        typer.Option(help="Match words this way in the new index (bm25: in it; postgres)."),
    ] = None,
    user: UserOption = None,
    org: OrgOption = None,
    verify: Annotated[
        bool, typer.Option("--verify", help="Compare the index with the rows and repair it.")
    ] = False,
    detach: Detach = False,
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Rebuild the index from the items in the background: a new generation switched in
    when complete (the whole index), or users re-embedded in place (--user, --org)."""
    if verify:
        where, answer = _ask(url, api_key, "/v1/reindex/verify", {"org_id": org, "user_id": user})
    else:
        body = {"model": model, "lexical": lexical, "org_id": org, "user_id": user}
        where, answer = _ask(url, api_key, "/v1/reindex", body)
    if answer.get("generation") is not None:
        typer.echo(f"job {answer['job_id']} on generation {answer['generation']}")
    _follow(where, answer["job_id"], detach)


@summaries_app.command("rebuild")
def rebuild_summaries(
    purpose: Annotated[str | None, typer.Option(help="Only this purpose's summaries.")] = None,
    user: UserOption = None,
    org: OrgOption = None,
    detach: Detach = False,
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Compute the stored summaries again in the background; each keeps serving until its
    new text replaces it."""
    body = {"purpose": purpose, "org_id": org, "user_id": user}
    where, answer = _ask(url, api_key, "/v1/summaries/rebuild", body)
    _follow(where, answer["job_id"], detach)


@jobs_app.command("follow")
def follow_job(job_id: str, url: Url = None, api_key: ApiKey = None) -> None:
    """Show a job's progress until it ends."""
    try:
        where = remote.locate(get_settings(), url, api_key)
    except remote.RemoteError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    _follow(where, job_id, detach=False)


if __name__ == "__main__":
    app()
