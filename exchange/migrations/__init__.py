"""Alembic migrations of the ledger schema, run in code by `exchange.db.upgrade`."""
