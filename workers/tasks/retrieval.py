"""The retrieval queue: answers the gateway's synchronous reads (RPC over the backend)."""

from __future__ import annotations

from typing import Any

from pipeline.messages import AnswerQuestion, SearchChunks, Task
from pipeline.retrieval.answers import answer as answer_question
from pipeline.retrieval.search import search_chunks
from workers.app import app, reply, runtime


# No STARTED state for these reads: the gateway waits only for the reply, and storing and
# publishing the state is one more Redis round trip per read (about 1 ms in bench-query).
@app.task(name=Task.SEARCH, track_started=False)
def search(**payload: Any) -> dict[str, Any]:
    message = SearchChunks.model_validate(payload)
    return reply(
        lambda: [
            c.model_dump(mode="json")
            for c in search_chunks(runtime(), message.org_id, message.request)
        ]
    )


@app.task(name=Task.ANSWER, track_started=False)
def answer(**payload: Any) -> dict[str, Any]:
    message = AnswerQuestion.model_validate(payload)
    return reply(
        lambda: answer_question(runtime(), message.org_id, message.request).model_dump(mode="json")
    )
