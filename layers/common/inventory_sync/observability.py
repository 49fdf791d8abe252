"""Powertools Logger, Metrics and Tracer: one instance each per process."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger(service="inventory-sync")
metrics = Metrics(namespace="InventorySync", service="inventory-sync")
tracer = Tracer(service="inventory-sync")
