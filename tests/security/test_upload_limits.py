"""Uploads are bounded before they are read (agrega/core/uploads.py), and a large dry run
runs in the background, never inside the request.

The request bodies here are produced lazily by a stream that counts what the server
reads from it, so "refused without reading it whole" is measured, not assumed.
"""

from __future__ import annotations

import time

import pytest
from django.test import Client

from agrega.imports import services
from agrega.imports.models import ImportJob, ImportStatus

from tests.fixtures import bearer_headers, logged_in_client
from tests.imports.helpers import HEADER, csv_bytes, row

MB = 1024 * 1024
BOUNDARY = "agregaBoundary7MA4YWxkTrZu0gW"


class LazyMultipart:
    """A multipart body with one CSV file of ``size`` bytes, made as it is read (never
    held whole); ``read_bytes`` is how much the server took from it."""

    def __init__(self, size: int, field: str = "file", extra: dict | None = None):
        head = "".join(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                       for k, v in (extra or {}).items())
        head += (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; filename="grande.csv"\r\n'
                 "Content-Type: text/csv\r\n\r\n")
        self.head = head.encode() + (";".join(HEADER) + "\n").encode()
        self.tail = f"\r\n--{BOUNDARY}--\r\n".encode()
        self.line = b"CT-1;Cliente;529.982.247-25;a@example.com.br;(11) 91234-5678;Campinas;SP;10;P;;;\n"
        self.body_size = size
        self.length = len(self.head) + size + len(self.tail)
        self.read_bytes = 0

    def _byte_at(self, start: int, n: int) -> bytes:
        out = bytearray()
        pos = start
        while len(out) < n and pos < self.length:
            if pos < len(self.head):
                piece = self.head[pos:pos + n - len(out)]
            elif pos < len(self.head) + self.body_size:
                offset = (pos - len(self.head)) % len(self.line)
                room = min(n - len(out), len(self.head) + self.body_size - pos)
                piece = (self.line[offset:] + self.line * (room // len(self.line) + 1))[:room]
            else:
                offset = pos - len(self.head) - self.body_size
                piece = self.tail[offset:offset + n - len(out)]
            out += piece
            pos += len(piece)
        return bytes(out)

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = self.length - self.read_bytes
        data = self._byte_at(self.read_bytes, n)
        self.read_bytes += len(data)
        return data

    def readline(self, size: int = -1) -> bytes:  # pragma: no cover - multipart reads chunks
        return self.read(size)


def post_lazy(client: Client, path: str, body: LazyMultipart, **headers):
    return client.generic("POST", path, b"", CONTENT_TYPE=f"multipart/form-data; boundary={BOUNDARY}",
                          CONTENT_LENGTH=str(body.length), **{"wsgi.input": body}, **headers)


@pytest.fixture
def operator(role_user):
    return role_user("uploader", "operador")


@pytest.fixture
def api_headers(operator):
    return bearer_headers(operator)


@pytest.fixture
def page_client(operator):
    return logged_in_client(operator)


@pytest.mark.parametrize("path", ["/api/imports/dry-run", "/api/imports", "/api/payments/imports"])
def test_a_50_mb_api_upload_is_refused_before_it_is_read(path, api_headers):
    body = LazyMultipart(50 * MB, extra={"provider": "banco"})
    response = post_lazy(Client(), path, body, **api_headers)
    assert response.status_code == 413, response.content[:300]
    error = response.json()["error"]
    assert error["code"] == "file_too_large" and "32 MB" in error["message"]
    assert body.read_bytes == 0
    assert not ImportJob.objects.exists()


def test_a_50_mb_dry_run_from_the_page_is_refused_before_it_is_read(page_client):
    body = LazyMultipart(50 * MB)
    response = post_lazy(page_client, "/importacoes/nova/", body)
    assert response.status_code == 303 and response["Location"] == "/importacoes/nova/"
    assert body.read_bytes == 0
    page = page_client.get(response["Location"])
    assert "Arquivo grande demais: o limite é 32 MB." in page.content.decode()
    assert not ImportJob.objects.exists()


def test_a_body_that_passes_the_declared_check_is_stopped_at_the_limit(api_headers, page_client, settings):
    """Content-Length within the room for the form, file over the limit: the handler stops
    the stream at the limit (within one 64 KiB chunk), not at the end."""
    settings.AGREGA_UPLOAD_MAX_BYTES = 1 * MB
    for client, path, headers in [(Client(), "/api/imports/dry-run", api_headers),
                                  (page_client, "/importacoes/nova/", {})]:
        body = LazyMultipart(MB + 200 * 1024)
        response = post_lazy(client, path, body, **headers)
        assert response.status_code in (413, 303), response.content[:300]
        assert body.read_bytes <= MB + 3 * 64 * 1024 < body.length
    assert not ImportJob.objects.exists()


def test_uploads_within_the_limit_still_work(api_headers):
    content = csv_bytes([row(1), row(2)])
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = Client().post("/api/imports/dry-run", {"file": SimpleUploadedFile("c.csv", content, "text/csv")},
                             **api_headers)
    assert response.status_code == 200, response.content
    assert response.json()["total"] == 2


def test_the_cli_reads_no_more_than_the_limit(tmp_path, settings):
    from agrega.core.uploads import FileTooLarge, read_file

    settings.AGREGA_UPLOAD_MAX_BYTES = 1 * MB
    big = tmp_path / "grande.csv"
    with open(big, "wb") as fh:
        fh.truncate(5 * MB)
    with pytest.raises(FileTooLarge) as caught:
        read_file(big)
    assert caught.value.code == "file_too_large" and "1 MB" in caught.value.message


@pytest.mark.django_db(transaction=True)
def test_a_big_dry_run_returns_at_once_with_its_progress(operator, api_headers, run_tasks):
    from django.core.files.uploadedfile import SimpleUploadedFile

    lines = services.SYNC_MAX_LINES + 500
    content = csv_bytes([row(n) for n in range(1, lines + 1)])
    client = Client()
    started = time.monotonic()
    response = client.post("/api/imports/dry-run", {"file": SimpleUploadedFile("c.csv", content, "text/csv")},
                           **api_headers)
    assert response.status_code == 202, response.content[:500]
    body = response.json()
    assert body["job"]["status"] == "validating" and body["job"]["total_lines"] == lines
    assert body["progress_url"] == f"/api/imports/{body['job']['id']}"
    returned_in = time.monotonic() - started
    # The dry run goes on as a background task (agrega worker's task process; here run in
    # this process); its progress and then its report are there.
    deadline = time.monotonic() + 120
    while True:
        run_tasks()
        job = client.get(body["progress_url"], **api_headers).json()
        if job["status"] == ImportStatus.VALIDATED:
            break
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
    report = client.get(body["report_url"], **api_headers).json()
    assert report["total"] == lines and report["applied"] == lines
    assert returned_in < time.monotonic() - started
    # Nothing but the job was written: no customer, no contract.
    from agrega.contracts.models import Contract
    from agrega.customers.models import Customer

    assert not Customer.objects.exists() and not Contract.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_wait_true_is_ignored_for_a_big_file(operator, api_headers, run_tasks):
    lines = services.SYNC_MAX_LINES + 1
    job = services.import_job_create(file_name="c.csv", content=csv_bytes([row(n) for n in range(1, lines + 1)]),
                                     actor=operator)
    response = Client().post(f"/api/imports/{job.pk}/validate?wait=true", **api_headers)
    assert response.status_code == 202 and response.json()["status"] == "validating"
    deadline = time.monotonic() + 120
    while ImportJob.objects.get(pk=job.pk).status != ImportStatus.VALIDATED:
        run_tasks()
        assert time.monotonic() < deadline
        time.sleep(0.2)
