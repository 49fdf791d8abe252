"""finalize function: FinalizeQueue and RunDLQ messages (partial batch failures) and the sweep schedule."""

from __future__ import annotations

import json

from inventory_sync.coldstart import loading_modules

with loading_modules():  # no garbage collection while the modules load (docs/decisions/0013)
    from typing import Any

    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from pydantic import ValidationError

    from inventory_sync import bootstrap
    from inventory_sync.db.unit_of_work import SqlUnitOfWork
    from inventory_sync.domain.messages import FinalizeMessage, RunMessage, SweepEvent, is_scheduled_envelope
    from inventory_sync.observability import logger, metrics
    from inventory_sync.services.finalize import ChangeRetention, FinalizeService

    container = bootstrap.FunctionContainer("finalize")
    bootstrap.register_snapstart_hooks(container)  # SnapStart: close connections before the snapshot, refresh after
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def _service() -> FinalizeService:
    built = container()
    s = built.settings
    return FinalizeService(SqlUnitOfWork(built.db), s.lock_idle_session_timeout_ms, s.pending_timeout_seconds,
                           ChangeRetention(days=s.change_retention_days))


def record_handler(record: SQSRecord) -> None:
    """A FinalizeQueue body or a dead-lettered RunQueue body, told apart by shape."""
    try:
        body = json.loads(record.body)
    except ValueError:
        body = None
    if isinstance(body, dict) and "selection" in body:
        try:
            dead = RunMessage.model_validate(body)
        except ValidationError:
            dead = None
        if dead is not None:
            result = _service().dead_letter(dead)
            metrics.add_metric(name="DeadLetteredRuns", unit="Count", value=1)
            logger.info("dead-lettered run handled", extra={"bulk_operation_run_id": dead.bulk_operation_run_id,
                                                            "result": result.value})
            return
    try:
        message = FinalizeMessage.model_validate(body)
    except ValidationError:
        logger.error("message is neither a FinalizeQueue nor a RunQueue body; dropped",
                     extra={"message_id": record.message_id})
        metrics.add_metric(name="MalformedMessages", unit="Count", value=1)
        return
    result = _service().finalize(message)
    metrics.add_metric(name=f"Finalize_{result.value}", unit="Count", value=1)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "Records" in event:
        return dict(process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                             context=context))
    if is_scheduled_envelope(event) or _is_sweep(event):
        report = _service().sweep()
        metrics.add_metric(name="SweepOrphanedRuns", unit="Count", value=len(report.orphaned_runs))
        metrics.add_metric(name="SweepStalePending", unit="Count", value=len(report.stale_pending))
        logger.info("sweep", extra=report.as_dict())
        return {"status": "ok", **report.as_dict()}
    logger.error("unsupported event; nothing done")
    return {"status": "rejected", "reason": "unsupported event"}


def _is_sweep(event: Any) -> bool:
    try:
        SweepEvent.model_validate(event)
    except ValidationError:
        return False
    return True
