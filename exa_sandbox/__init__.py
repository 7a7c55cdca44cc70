"""A standalone HTTP server that behaves like the EXA SVA platform.

It stands in for EXA's private API in tests, demos and benchmarks: token auth, one
account per partner prefix, packages, users keyed by Agrega's external id, conflicts,
validation errors, and switchable faults (latency, 5xx, 429, timeouts, lost responses).
The contract it serves is documented in ``docs/connectors/exa.md``.

It imports nothing from ``agrega``: it plays the remote platform, not a part of Agrega.
Run it with ``python -m exa_sandbox --help``; drive it from tests with
``exa_sandbox.testing``.
"""
