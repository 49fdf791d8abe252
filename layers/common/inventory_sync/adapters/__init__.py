"""Adapters to the outside world: SQS, Secrets Manager, Microsoft Graph."""
