"""Execution: running a suite's operations and measuring them (SPEC §4).

``suite_run`` (a run from its record to its landing files) → ``rounds`` (randomised interleaved
rounds over the cells) → ``backends`` (where the runner worker lives: a host process or a
container; ``choice`` picks one, ``images`` builds the containers' images) → ``runner`` (the worker
itself, standard library only, with ``cgroup`` and the ``native`` bench-exec helper).
``environment`` holds the host facts recorded with a run.
"""
