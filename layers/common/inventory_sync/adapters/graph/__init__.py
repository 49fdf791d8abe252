"""Microsoft Graph: app-only tokens, resilient paging, $batch, and the per-type inventory reader."""
