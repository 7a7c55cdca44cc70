"""A standalone HTTP server that behaves like a PSP recebedor implementing the API Pix.

It stands in for a bank's API Pix (Banco Central do Brasil, OpenAPI 2.9.0) in tests,
demos and benchmarks: OAuth2 client credentials with scopes, cobranças imediatas and com
vencimento with a real BR Code, Pix recebidos and devoluções, webhooks delivered from a
background thread, Pix Automático (rec, solicrec, cobr) — plus a *payer* side under
``/_sandbox/`` that pays, approves recurrences and settles ``cobr``, and fault switches.
The endpoints it serves are listed in ``docs/pix-sandbox.md``.

It imports nothing from ``agrega``: it plays the remote PSP, not a part of Agrega.
Run it with ``python -m pix_sandbox --help``; drive it from tests with
``pix_sandbox.testing``.
"""
