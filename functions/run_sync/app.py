"""run_sync function: RunQueue messages (SQS, BatchSize 1, partial batch failures)."""

from __future__ import annotations

from inventory_sync.coldstart import loading_modules

with loading_modules():  # no garbage collection while the modules load (docs/decisions/0013)
    from typing import Any

    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from pydantic import ValidationError

    from inventory_sync import bootstrap
    from inventory_sync.domain.messages import RunMessage
    from inventory_sync.observability import logger, metrics
    from inventory_sync.services.sync import SyncService
    from inventory_sync.settings import RunSyncSettings

    container = bootstrap.FunctionContainer("run_sync", RunSyncSettings)
    bootstrap.register_snapstart_hooks(container)  # SnapStart: close connections before the snapshot, refresh after
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> None:
    """One RunQueue message (Powertools passes the invocation's context: the run's deadline comes from it)."""
    try:
        message = RunMessage.model_validate_json(record.body)
    except ValidationError as exc:
        # not retried: a malformed message never becomes valid; nothing is written
        logger.error("malformed RunQueue message dropped", extra={"message_id": record.message_id,
                                                                   "errors": exc.error_count()})
        metrics.add_metric(name="MalformedMessages", unit="Count", value=1)
        return
    logger.append_keys(bulk_operation_run_id=message.bulk_operation_run_id, tenant_id=message.tenant_id)
    logger.set_correlation_id(message.correlation_id)
    try:
        outcome = SyncService(container().sync_deps).process(
            message, lambda: lambda_context.get_remaining_time_in_millis() / 1000)
    except Exception:
        logger.exception("run attempt failed; SQS will deliver the message again")
        raise
    metrics.add_metric(name=f"Runs_{outcome.value}", unit="Count", value=1)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                         context=context))
