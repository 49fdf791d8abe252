"""Dispatch function: API Gateway HTTP API (2.0) requests and the EventBridge sync schedule."""

from __future__ import annotations

from inventory_sync.coldstart import loading_modules

with loading_modules():  # no garbage collection while the modules load (docs/decisions/0013)
    from typing import Any

    from aws_lambda_powertools.utilities.typing import LambdaContext

    from inventory_sync import bootstrap
    from inventory_sync.api import routes
    from inventory_sync.db.unit_of_work import SqlUnitOfWork
    from inventory_sync.domain.messages import is_http_event
    from inventory_sync.domain.selection import SelectionError
    from inventory_sync.observability import logger, metrics
    from inventory_sync.services.dispatch import DispatchService
    from inventory_sync.services.schedule import BadScheduleEvent, selection_of
    from inventory_sync.settings import DispatchSettings

    container = bootstrap.FunctionContainer("dispatch", DispatchSettings)
    bootstrap.register_snapstart_hooks(container)  # SnapStart: close connections before the snapshot, refresh after


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if is_http_event(event):
        return routes.handle(event, context, container)
    built = container()
    try:
        resolved = selection_of(event, built.registry)
    except (BadScheduleEvent, SelectionError) as exc:
        logger.error("rejected scheduled event; nothing dispatched", extra={"reason": str(exc)})
        return {"status": "rejected", "reason": str(exc)}
    correlation_id = event.get("id") or context.aws_request_id
    logger.set_correlation_id(correlation_id)
    result = DispatchService(SqlUnitOfWork(built.db), built.run_queue, built.registry).dispatch_scheduled(
        resolved, correlation_id)
    metrics.add_metric(name="ScheduledDispatches", unit="Count", value=len(result.dispatched))
    logger.info("scheduled dispatch", extra=result.as_dict() | {"skipped_tenant_ids": None})
    return {"status": "ok", **result.as_dict()}
