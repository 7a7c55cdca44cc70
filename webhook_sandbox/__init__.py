"""A small platform that receives Agrega's "Webhook genérico" events, for tests and demos.

It verifies each event's signature exactly as docs/connectors/webhook.md tells a platform
to (without importing Agrega: the receiving side is written from the document), keeps the
users the events describe, and has the EXA sandbox's fault switches (latency, 5xx, 429
with Retry-After, hangs, answers lost after applying, refusals, down).

    python -m webhook_sandbox --port 0 --account demo:SEGREDO
"""
