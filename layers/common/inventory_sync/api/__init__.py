"""The HTTP API (API Gateway HTTP API, payload 2.0) on Powertools' event handler."""
