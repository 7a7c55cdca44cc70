"""What the sandbox SEFAZ remembers: authorised NFCom, their protocols and events.

In memory behind one lock; with ``--data FILE`` the state is loaded at start and saved
(atomically) within a second of a change and at shutdown, like ``exa_sandbox``'s store, so a demo keeps its
documents across restarts. Tests read it through the admin API.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any


class Store:
    def __init__(self, data_path: str | None = None):
        self.lock = threading.RLock()
        self.data_path = data_path
        self.documents: dict[str, dict[str, Any]] = {}  # chave -> record
        self.numbers: dict[str, str] = {}  # "cnpj|mod|serie|nNF" -> chave
        self.next_prot = 1
        self.log: list[dict[str, Any]] = []  # last requests: service, key, cStat
        self.dirty = False
        if data_path and os.path.exists(data_path):
            self._load(data_path)

    # -- persistence -------------------------------------------------------------------
    def _load(self, path: str) -> None:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        self.documents = data.get("documents", {})
        self.next_prot = int(data.get("next_prot", 1))
        self.numbers = {self.number_key(d["cnpj"], d["serie"], d["nnf"]): k
                        for k, d in self.documents.items()}

    def save(self) -> None:
        """Note a change; ``flush`` writes it (every second from the server's flusher
        thread, and at shutdown), so a busy sandbox does not rewrite the file per call."""
        self.dirty = True

    def flush(self) -> None:
        if not self.data_path or not self.dirty:
            return
        with self.lock:
            payload = json.dumps({"documents": self.documents, "next_prot": self.next_prot})
            self.dirty = False
        tmp = self.data_path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(payload)
        os.replace(tmp, self.data_path)

    def flush_every(self, seconds: float, stop: threading.Event) -> threading.Thread:
        def loop() -> None:
            while not stop.wait(seconds):
                self.flush()

        thread = threading.Thread(target=loop, name="sefaz-store-flush", daemon=True)
        thread.start()
        return thread

    # -- documents ---------------------------------------------------------------------
    @staticmethod
    def number_key(cnpj: str, serie: str, nnf: str) -> str:
        return f"{cnpj}|{int(serie)}|{int(nnf)}"

    def protocol(self, cuf: str, year: str) -> str:
        """A new 16-digit protocol number: UF, year, sequence."""
        with self.lock:
            seq = self.next_prot
            self.next_prot += 1
        return f"{cuf.zfill(2)}{year[-2:]}{seq:012d}"

    def get(self, chave: str) -> dict[str, Any] | None:
        with self.lock:
            return self.documents.get(chave)

    def by_number(self, cnpj: str, serie: str, nnf: str) -> dict[str, Any] | None:
        with self.lock:
            chave = self.numbers.get(self.number_key(cnpj, serie, nnf))
            return self.documents.get(chave) if chave else None

    def add(self, record: dict[str, Any]) -> None:
        with self.lock:
            self.documents[record["chave"]] = record
            self.numbers[self.number_key(record["cnpj"], record["serie"], record["nnf"])] = record["chave"]
        self.save()

    def add_event(self, chave: str, event: dict[str, Any], *, status: str | None = None) -> None:
        with self.lock:
            record = self.documents[chave]
            record.setdefault("events", []).append(event)
            if status:
                record["status"] = status
        self.save()

    def note(self, service: str, chave: str | None, c_stat: str) -> None:
        with self.lock:
            self.log.append({"service": service, "chave": chave, "c_stat": c_stat})
            del self.log[:-1000]

    def reset(self) -> None:
        with self.lock:
            self.documents.clear()
            self.numbers.clear()
            self.log.clear()
        self.save()

    def summary(self, record: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in record.items() if k not in ("xml", "events")} | {
            "events": [{k: v for k, v in e.items() if k != "xml"} for e in record.get("events", [])]
        }
