"""File formats out: pure writers from Arrow tables the SDK reads from the store."""
