"""The process's start-up heap, settled once before a command or a web worker does its work
(``core.management.base.PortugueseCommand.run_from_argv``, ``agrega/wsgi.py``).

Django's setup leaves ~90,000 objects the cyclic garbage collector tracks (settings,
apps, models, URL patterns, the modules' functions and classes) that live as long as the
process. Without this, every full collection walks them again: at a 2,000-contract
billing run that was ~40 % of the run's Python CPU (bench/README.md, "peer_billing"); in a
web worker, with the URL configuration and its views loaded (~195,000 objects), a ~125 ms
pause every few seconds under load (bench/README.md, "api_load", seventh session).
``gc.freeze()`` moves them to the permanent generation, as servers that fork do
(Python's ``gc.freeze`` documentation); the objects made afterwards are collected as
before. Once per process: later calls do nothing.
"""

from __future__ import annotations

import gc

_done = False


def freeze_startup_heap() -> None:
    """Collect what start-up left as garbage, then freeze the rest (once per process)."""
    global _done
    if _done:
        return
    _done = True
    gc.collect()
    gc.freeze()
