"""/api/tasks: the background tasks (agrega/core/tasks.py). An endpoint that enqueues work
answers 202 with ``Location: /api/tasks/{id}``; this is where the client follows it, and
``link_url`` points at the row that keeps the work's progress (a billing run, an import)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status

from .api import ErrorOut
from .errors import NotFound
from .tasks import task_data, task_get, task_list

router = Router(tags=["Tarefas"])


class TaskOut(Schema):
    id: str
    name: str
    status: str
    status_label: str
    enqueued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    attempts: int
    result: Any = None
    error: str
    link_label: str
    link_url: str
    url: str
    page_url: str


def task_accepted(response: HttpResponse, task_id) -> Status:
    """The answer of an endpoint that enqueued ``task_id``: 202 with the task, and
    ``Location`` where the client follows it."""
    data = task_data(task_get(task_id))
    response["Location"] = data["url"]
    return Status(202, data)


@router.get("/{task_id}", response={200: TaskOut, 401: ErrorOut, 404: ErrorOut}, url_name="task_detail",
            summary="Consultar tarefa",
            description="Situação (`READY` na fila, `RUNNING`, `SUCCESSFUL`, `FAILED`), tentativas, resultado "
            "e `link_url`: a página do que a tarefa processa, onde fica o progresso.")
def task_detail(request: HttpRequest, task_id: str):
    row = task_get(task_id)
    if row is None:
        raise NotFound("Tarefa", "task_not_found")
    return task_data(row)


@router.get("", response={200: list[TaskOut], 401: ErrorOut}, summary="Tarefas recentes")
def task_recent(request: HttpRequest, limit: int = Query(50, ge=1, le=500)):
    return [task_data(r) for r in task_list(limit=limit)]
