"""A GET through a WSGI application in this process, as gunicorn would call it, with an
API token: what bench/api_load/profile_reads.py and chain_ab.py time (no socket, no
server: the application's own CPU per request)."""

import io


def wsgi_get(application, path: str, query: str, token: str) -> bytes:
    """The body of a 200 answer to ``GET path?query`` (anything else stops the bench)."""
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query, "SERVER_NAME": "127.0.0.1",
               "SERVER_PORT": "8000", "HTTP_HOST": "127.0.0.1", "HTTP_AUTHORIZATION": f"Bearer {token}",
               "wsgi.input": io.BytesIO(b""), "wsgi.url_scheme": "http", "SERVER_PROTOCOL": "HTTP/1.1",
               "REMOTE_ADDR": "127.0.0.1"}
    status = []
    body = b"".join(application(environ, lambda s, h, *a: status.append(s)))
    assert status[0].startswith("200"), (status, body[:300])
    return body
