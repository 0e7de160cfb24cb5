"""The retrieval queue: answers the gateway's synchronous reads (RPC over the backend)."""

from __future__ import annotations

from typing import Any

from pipeline import answers, retrieval
from pipeline.errors import PersonaError
from pipeline.messages import AnswerQuestion, SearchChunks, Task, error_reply, ok_reply
from workers.app import app, runtime


@app.task(name=Task.SEARCH)
def search(**payload: Any) -> dict[str, Any]:
    message = SearchChunks.model_validate(payload)
    try:
        chunks = retrieval.search_chunks(runtime(), message.org_id, message.request)
    except PersonaError as exc:
        return error_reply(exc)
    return ok_reply([c.model_dump(mode="json") for c in chunks])


@app.task(name=Task.ANSWER)
def answer(**payload: Any) -> dict[str, Any]:
    message = AnswerQuestion.model_validate(payload)
    try:
        reply = answers.answer(runtime(), message.org_id, message.request)
    except PersonaError as exc:
        return error_reply(exc)
    return ok_reply(reply.model_dump(mode="json"))
