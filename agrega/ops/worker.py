"""The ``agrega worker`` process, put together: the SVA convergence loop, the task worker
beside it, and the PIX inbox consumer. Composition lives here, in ops, so that the SVA app
knows nothing of the apps whose work runs in the same process."""

from __future__ import annotations

import logging

from agrega.core.tasks import TaskProcess
from agrega.pix.inbox import InboxConsumer
from agrega.sva.controller.worker import SvaWorker

log = logging.getLogger("agrega.sva.worker")  # the line the SVA worker always logged


def run_worker(*, concurrency: int | None = None, jobs: bool = True, tasks: bool = True) -> None:
    """The ``agrega worker`` process: the SVA convergence loop and, beside it, the task
    worker as a child process (agrega/core/tasks.py, decision 0008) that runs the
    background tasks and, unless ``jobs`` is False, enqueues the periodic jobs."""
    worker = SvaWorker(concurrency=concurrency)
    worker.install_signal_handlers()
    child = TaskProcess(scheduler=jobs) if tasks else None
    # the PSP's callbacks recorded by the web: confirmed and applied here, in batches; a
    # batch that released contracts wakes the SVA loop at once (agrega/pix/inbox.py)
    inbox = InboxConsumer(on_applied=worker.wake)
    log.info("SVA worker %s started (concurrency %s, task worker %s, periodic jobs %s)", worker.worker_id,
             worker.concurrency, "on" if tasks else "off", "on" if tasks and jobs else "off")
    if child:
        child.start()
    inbox.start()
    try:
        worker.run()
    finally:
        inbox.stop()
        if child:
            child.stop()
        worker.close()
