"""Run the CLI and SIGKILL it at one commit point: ``python -m tests.hostile.crash POINT -- ARGS``.

POINT is ``after:<target>`` or ``before:<target>`` where target is a function of the library
(``store.Store.load_landing``, ``report.render.render_run`` …), optionally ``@<first argument>``
to pick one call (``store.Store.replace_rows@cell_stats``). The process kills itself with SIGKILL —
no cleanup, no ``finally`` — exactly where the commit under test has (or has not) happened.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
from typing import Any


def arm(point: str) -> None:
    when, _, target = point.partition(":")
    target, _, only = target.partition("@")
    module_name, _, attr = target.rpartition(".")
    owner: Any
    try:  # module.Class.method
        parent, _, cls = module_name.rpartition(".")
        owner = getattr(importlib.import_module(f"bench_pipeline.{parent}"), cls)
    except (ImportError, AttributeError, ValueError):
        owner = importlib.import_module(f"bench_pipeline.{module_name}")
    original = getattr(owner, attr)

    def crashing(*args: Any, **kwargs: Any) -> Any:
        chosen = not only or only in [str(a) for a in args[:3]]
        if chosen and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        result = original(*args, **kwargs)
        if chosen and when == "after":
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(owner, attr, crashing)
    if isinstance(owner, type):
        return
    for module in list(sys.modules.values()):  # names imported with `from module import fn`
        if module is not None and getattr(module, attr, None) is original:
            setattr(module, attr, crashing)


if __name__ == "__main__":
    point, _sep, *args = sys.argv[1:]
    arm(point)
    from bench_pipeline.interfaces.cli import main

    main(args)
