"""PostgreSQL adapters: the shared database (pool, migrations, errors), the embedded server, and
the pgvector store."""
