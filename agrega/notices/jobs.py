"""The customer-notices job for the periodic runner (agrega/core/jobs.py):
``{"call": "agrega.notices.jobs.run", "every_seconds": 60}``."""

from . import services


def run() -> dict:
    """Write the notices of the states confirmed and of the régua's debt notices since the
    last run, then send what is due."""
    written = services.enqueue_state_notices()
    written["debt"] = services.enqueue_debt_notices()
    sent = services.send_pending_notices(limit=500)
    return {"written": written, "sending": sent}
