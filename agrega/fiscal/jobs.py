"""The NFCom job for the periodic runner (agrega/core/jobs.py): documents that wait
(SEFAZ out of service, an unknown outcome to settle, a cancelled título) go on."""

from . import services


def send_pending() -> dict:
    emitter = services.emitter_get()
    if emitter is None or not emitter.certificate_enc:
        return {"skipped": "fiscal not configured"}
    if not services.pending_ids(limit=1):
        return {"sent": 0}
    return services.send_pending()
