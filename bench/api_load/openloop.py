"""An open-loop HTTP load generator: requests leave at a fixed rate whatever the answers do.

Request i is due at ``start + i / rate``; it goes out on the first of ``--connections``
keep-alive connections that is free, and its latency is counted from the time it was due,
not from when it was sent — so a stall of the server shows in the latency of every
request that waited behind it (no coordinated omission, as in wrk2). Plain asyncio
streams and HTTP/1.1 (no client library in the measured loop: a few tens of µs of CPU per
request). Prints one JSON line: requests due, sent, answered, 2xx, other statuses, the
rate achieved (answers per second over the run), the latency percentiles in ms, and the five
slowest requests (when they were due, in seconds after ``started_at``, wall clock), and how late
the generator itself put a request on its queue at most (a stall of this process, not of the
server: ``generator_late_ms``, with when).

    python bench/api_load/openloop.py --url http://127.0.0.1:8000 --paths paths.txt \\
        --rate 200 --seconds 10 --connections 20 --token TOKEN [--method POST]

Paths are used in file order and wrap around (``--unique``: each once, then stop sending).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import urllib.parse


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


async def run(url: str, paths: list[str], *, rate: float, seconds: float, connections: int, token: str,
              method: str = "GET", unique: bool = False, timeout: float = 10.0) -> dict:
    parts = urllib.parse.urlsplit(url)
    host, port = parts.hostname, parts.port or 80
    queue: asyncio.Queue = asyncio.Queue()
    timed: list[tuple[float, float]] = []  # (latency ms, due: seconds after the start)
    statuses: dict[str, int] = {}
    errors = {"connect": 0, "read": 0, "timeout": 0}
    total = int(rate * seconds)
    if unique or not paths:
        total = min(total, len(paths))
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05
    last_answer = start

    late = [0.0, 0.0]  # the generator's own lateness: the most a request was queued after its due time, and when

    async def schedule() -> None:
        for i in range(total):
            due = start + i / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            behind = loop.time() - due
            if behind > late[0]:
                late[:] = [behind, due - start]
            queue.put_nowait((due, paths[i % len(paths)]))
        for _ in range(connections):
            queue.put_nowait(None)

    async def connection() -> None:
        nonlocal last_answer
        reader = writer = None
        while True:
            item = await queue.get()
            if item is None:
                break
            due, path = item
            request = (f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
                       f"Accept: application/json\r\nContent-Length: 0\r\n\r\n").encode()
            for attempt in (1, 2):  # a keep-alive connection the server closed: open a new one once
                try:
                    if writer is None:
                        reader, writer = await asyncio.open_connection(host, port)
                    writer.write(request)
                    status, keep = await asyncio.wait_for(read_response(reader), timeout)
                    break
                except asyncio.TimeoutError:
                    errors["timeout"] += 1
                    status = None
                    writer.close()
                    writer = None
                    break
                except (ConnectionError, asyncio.IncompleteReadError, OSError) as exc:
                    if writer is not None:
                        writer.close()
                    writer = None
                    if attempt == 2:
                        errors["connect" if isinstance(exc, OSError) and not isinstance(
                            exc, asyncio.IncompleteReadError) else "read"] += 1
                        status = None
            now = loop.time()
            if status is not None:
                timed.append(((now - due) * 1000, due - start))
                statuses[str(status)] = statuses.get(str(status), 0) + 1
                last_answer = max(last_answer, now)
                if not keep and writer is not None:
                    writer.close()
                    writer = None
        if writer is not None:
            writer.close()

    await asyncio.gather(schedule(), *(connection() for _ in range(connections)))
    timed.sort(reverse=True)
    latencies = [ms for ms, _ in reversed(timed)]
    answered = len(latencies)
    ok = sum(n for s, n in statuses.items() if s.startswith("2"))
    return {"due": total, "answered": answered, "ok": ok, "non2xx": answered - ok, "statuses": statuses,
            "errors": errors, "rate_asked": rate, "rate_answered": answered / max(1e-9, last_answer - start),
            "seconds": last_answer - start, "started_at": time.time() - (loop.time() - start),
            "worst": [[round(at, 3), round(ms, 1)] for ms, at in timed[:5]],
            "generator_late_ms": [round(late[0] * 1000, 1), round(late[1], 3)],
            "latency_ms": {"p50": percentile(latencies, 50), "p90": percentile(latencies, 90),
                           "p99": percentile(latencies, 99), "p999": percentile(latencies, 99.9),
                           "max": latencies[-1] if latencies else float("nan")}}


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Status and whether the connection stays open; the body is read and dropped."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, chunked, keep = 0, False, not lines[0].startswith("HTTP/1.0")
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding" and "chunked" in value:
            chunked = True
        elif name == "connection":
            keep = value != "close"
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status, keep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--paths", required=True, help="file: one request path per line")
    parser.add_argument("--rate", type=float, required=True, help="requests per second")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--token", default="")
    parser.add_argument("--method", default="GET")
    parser.add_argument("--unique", action="store_true", help="each path once")
    args = parser.parse_args()
    paths = [p for p in open(args.paths).read().splitlines() if p]
    started = time.process_time()
    result = asyncio.run(run(args.url, paths, rate=args.rate, seconds=args.seconds, connections=args.connections,
                             token=args.token, method=args.method, unique=args.unique))
    result["generator_cpu"] = time.process_time() - started
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
