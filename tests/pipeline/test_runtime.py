"""The runtime opens the vector index the settings name: a Qdrant server is asked with the
API key PERSONA_QDRANT_API_KEY gives (a local HTTP server stands in for Qdrant)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pipeline.errors import Retryable
from pipeline.generations import Generation
from pipeline.models import BM25_LEXICAL, MINILM
from pipeline.runtime import Runtime
from pipeline.status import GenerationState


@pytest.fixture
def qdrant_stand_in() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A server that records each request's headers and answers 503, as a Qdrant that
    is not ready would."""
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def _refuse(self) -> None:
            seen.append({k.lower(): v for k, v in self.headers.items()})
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_PUT = do_POST = _refuse

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


@pytest.mark.filterwarnings("ignore:Api key is used with an insecure connection")
@pytest.mark.filterwarnings("ignore:Failed to obtain server version")
def test_the_qdrant_api_key_reaches_the_server(
    make_runtime: Callable[..., Runtime], qdrant_stand_in: tuple[str, list[dict[str, str]]]
) -> None:
    url, seen = qdrant_stand_in
    runtime = make_runtime(qdrant={"url": url, "api_key": "qdrant-secret-of-this-test"})
    first = Generation(1, MINILM, "chunks", GenerationState.ACTIVE, BM25_LEXICAL)
    with pytest.raises(Retryable):  # a 503: the index is not there yet
        runtime.index(first)
    assert seen, "the runtime asked the configured server"
    assert {h.get("api-key") for h in seen} == {"qdrant-secret-of-this-test"}


def test_a_question_the_model_reads_the_same_again_reuses_its_vector(
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime()
    first = runtime.embed_query("Where is the stand-up with Ash?", MINILM)
    again = runtime.embed_query("where is  the stand-up with ash?", MINILM)  # same tokens
    other = runtime.embed_query("Where is the stand-up with Bea?", MINILM)

    assert again is first  # from the cache: the model did not run again
    assert not first.flags.writeable  # no search can alter what another reads
    assert float(first @ other) < 0.99
