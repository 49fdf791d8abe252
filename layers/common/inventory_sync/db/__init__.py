"""PostgreSQL adapters: connections, migrations and one module per table's SQL."""
