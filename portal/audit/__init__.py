"""The trace (留痕): an append-only, hash-chained record of every step a request takes.

``portal.audit.trace.record`` writes an entry in the caller's transaction,
``portal.audit.trace.verify`` walks the chain, and ``portal audit verify`` reports on it.
"""
