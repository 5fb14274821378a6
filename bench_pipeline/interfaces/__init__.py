"""Floor 3, the interfaces people use: the command line (``cli``) and the HTTP API (``http``).

They may import the Dagster code location (``definitions``, ``jobs``, ``assets``, ``resources``)
and the core; nothing below imports them (import-linter contracts in ``.importlinter``).
"""
