"""Loaded by every Python process started with this folder on PYTHONPATH (`bench.flow`).

When PERSONA_TRACE_FLOW names a folder, a gateway or worker process records which of
the project's files is executing, each time that changes (a call into a file, a return
to one), with the time and thread, and appends the records to `<folder>/<pid>.jsonl`.
Module bodies (imports) are left out: they are not the path of a request. When a
function named in PERSONA_TRACE_MARKS (qualified names) is called, it also records the
project files on the call stack at that moment: how the data got there.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

_OUT = os.environ.get("PERSONA_TRACE_FLOW")
_ROOT = os.environ.get("PERSONA_TRACE_ROOT", "")


def _install() -> None:
    project = tuple(os.path.join(_ROOT, p) + os.sep for p in ("pipeline", "api_gateway", "workers"))
    marks = frozenset(filter(None, os.environ.get("PERSONA_TRACE_MARKS", "").split(",")))
    records: list[tuple[float, int, object]] = []
    last: dict[int, str | None] = {}
    role: list[bool] = []

    def traced() -> bool:
        if not role:
            argv = " ".join(sys.argv)
            gateway = "uvicorn" in argv or "api_gateway" in argv
            role.append(gateway or ("celery" in argv and " worker" in argv))
        return role[0]

    def note(path: str | None) -> None:
        tid = threading.get_ident()
        if last.get(tid, "") != path:
            last[tid] = path
            records.append((time.monotonic(), tid, path[len(_ROOT) + 1 :] if path else None))

    def stack(frame) -> list[str]:  # type: ignore[no-untyped-def]
        files = []
        while frame is not None:
            if frame.f_code.co_filename.startswith(project):
                files.append(frame.f_code.co_filename[len(_ROOT) + 1 :])
            frame = frame.f_back
        return files[::-1]

    def hook(frame, event, _arg):  # type: ignore[no-untyped-def]
        if event == "call":
            code = frame.f_code
            if code.co_filename.startswith(project) and code.co_name != "<module>" and traced():
                note(code.co_filename)
                if code.co_qualname in marks:
                    mark = {"mark": code.co_qualname, "stack": stack(frame)}
                    records.append((time.monotonic(), threading.get_ident(), mark))
        elif event == "return":
            code = frame.f_code
            if code.co_filename.startswith(project) and code.co_name != "<module>" and traced():
                back = frame.f_back
                while back is not None and not back.f_code.co_filename.startswith(project):
                    back = back.f_back
                note(back.f_code.co_filename if back is not None else None)

    def flush() -> None:
        path = os.path.join(_OUT or ".", f"{os.getpid()}.jsonl")
        while True:
            time.sleep(0.2)
            if records:
                batch = records[:]
                del records[: len(batch)]
                with open(path, "a") as out:
                    out.writelines(json.dumps(r) + "\n" for r in batch)

    threading.Thread(target=flush, daemon=True, name="flow-trace").start()
    threading.setprofile(hook)
    sys.setprofile(hook)


if _OUT:
    _install()
