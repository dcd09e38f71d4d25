"""The audit step (DESIGN §1 step 9): every request that reaches the pipeline leaves one audit record, and a
disclosure is durably committed before any byte of it is sent. No audit, no data.

Two parts, because refusals never reach the last stage:

- ``audited(ctx, run, writer)`` wraps the whole pipeline run (``routes.common.run_pipeline``, outside the time
  budget so that a TIMEOUT is recorded too). It runs the pipeline, builds the record of how it ended
  (``gateway.audit.record.record_of``) and waits for its batch to commit:

  * answered → the record is committed, then ``run`` returns and the route encodes the answer. If the commit
    fails or is too slow, the answer is dropped and ``PmpError(AUDIT_UNAVAILABLE)`` (503) raised instead;
  * refused (``PmpError``) or failed (any exception) → the record is committed, then the error propagates. If the
    audit store is down then, the refusal still goes out (it discloses nothing) and a warning is logged;
  * abandoned by the client (cancelled) → the record is queued (not awaited: nothing will be sent).

- ``Audit``, the stage named ``audit`` at the end of the pipeline, checks that ``audited`` is around the run: if it
  is not (a wiring mistake), it refuses with AUDIT_UNAVAILABLE rather than let an unaudited answer out.

Requests refused while being decoded (malformed body, wrong media type) never reach the pipeline and are not
recorded: they name nobody reliably and disclose nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from gateway.audit.errors import AuditUnavailableError
from gateway.audit.record import record_of
from gateway.audit.writer import RecordWriter
from gateway.pipeline.context import RequestContext
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

log = logging.getLogger("pmp.audit")

NOTE = "audit"
ARMED = "armed"
UNAVAILABLE = "the audit trail is unavailable; nothing was disclosed"


def audit_unavailable() -> PmpError:
    return PmpError(pb.ERROR_CODE_AUDIT_UNAVAILABLE, UNAVAILABLE, retry_after=1.0)


class Audit:
    """The pipeline's last stage: refuses unless ``audited`` will record this request's answer."""

    name = "audit"

    async def __call__(self, ctx: RequestContext) -> None:
        if ctx.notes.get(NOTE) != ARMED:
            raise audit_unavailable()
        ctx.notes[NOTE] = "pending"


async def audited(ctx: RequestContext, run: Callable[[], Awaitable[None]], writer: RecordWriter) -> None:
    """Run the pipeline (``run``) and record its outcome; return only once an answer's record is committed."""
    ctx.notes[NOTE] = ARMED
    try:
        await run()
    except asyncio.CancelledError as cancelled:
        writer.submit(record_of(ctx, cancelled))
        raise
    except Exception as error:  # PmpError, or a bug the app's middleware turns into INTERNAL: recorded either way
        await _record_refusal(ctx, error, writer)
        raise
    try:
        seq = await writer.record(record_of(ctx, None))
    except AuditUnavailableError as exc:
        ctx.response = None
        log.warning("audit unavailable: answer withheld", extra={"request_id": ctx.request_id, "error": str(exc)})
        raise audit_unavailable() from None
    ctx.notes[NOTE] = f"seq {seq}"


async def _record_refusal(ctx: RequestContext, error: Exception, writer: RecordWriter) -> None:
    try:
        seq = await writer.record(record_of(ctx, error))
    except AuditUnavailableError as exc:
        log.warning(
            "audit unavailable: refusal not recorded",
            extra={
                "request_id": ctx.request_id,
                "outcome": error.code_name if isinstance(error, PmpError) else "internal",
                "error": str(exc),
            },
        )
        return
    ctx.notes[NOTE] = f"seq {seq}"
