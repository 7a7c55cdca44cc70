"""Ready-made réguas.

**Anatel** follows the consumer rules for telecom services (RGC, Resolução Anatel
nº 632/2014, arts. 90–97, kept by the Resolução nº 765/2023): the consumer is notified
of the debt, partial suspension may come 15 days after the notice, total suspension 30
days after the partial one, and the contract may be rescinded 30 days after the total
suspension; once paid, the service is restored within 24 hours (here: at once, and the
SVA users follow within the worker's convergence time).

**Simples** blocks (CA) after N days and does nothing else.
"""

from __future__ import annotations

from .models import DunningAction as A

ANATEL_STAGES = (
    (1, A.NOTICE),
    (16, A.PARTIAL_SUSPENSION),
    (46, A.BLOCK_AUTOMATIC),
    (76, A.RESCIND),
)


def simple_stages(days: int = 15) -> tuple[tuple[int, str], ...]:
    return ((days, A.BLOCK_AUTOMATIC),)


PRESETS = {
    "anatel": ("Anatel (RGC)", ANATEL_STAGES),
    "simples": ("Simples (bloqueio após 15 dias)", simple_stages()),
}
