"""The `por` command: thin click wiring over `exchange` and `por`."""
