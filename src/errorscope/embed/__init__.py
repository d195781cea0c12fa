"""Embeddings without a database: vector files, built-in models, search indexes, 2-D
projections (pure computation on numpy arrays; the SDK stores and serves them)."""
