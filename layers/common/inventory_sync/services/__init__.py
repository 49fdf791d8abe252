"""Use cases: dispatch, queries, sync, finalize. No boto3, no HTTP, no SQL strings here."""
