"""bench-pipeline: continuous benchmarking of command-line tools.

The functional core. Nothing in this package imports Dagster; the Dagster code
location (``assets/``, ``resources/``, ``jobs/``, ``definitions.py``) wires it up.
"""

__version__ = "0.1.0"
