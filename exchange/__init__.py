"""Exchange ledger core: accounts, double-entry journal, matching, margin. Never imports `por`."""

__all__: list[str] = []
