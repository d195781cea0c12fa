"""File formats in: each module parses one format into the Arrow contract of ``core.types``.

Parsers never touch the database. They return a :class:`~errorscope.ingest.common.Parsed`
whose tables the SDK validates and writes in one transaction.
"""
