"""Running a CLI command in-process, as the CLI tests of every app do."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

from django.core.management import call_command


@dataclass
class Result:
    code: int
    out: str
    err: str

    def __iter__(self):
        """``code, out, err = run(...)``, for tests that unpack the three."""
        return iter((self.code, self.out, self.err))

    @property
    def json(self):
        return json.loads(self.out)


def run(command: str, *args) -> Result:
    out, err = io.StringIO(), io.StringIO()
    code = 0
    try:
        call_command(command, *[str(a) for a in args], stdout=out, stderr=err)
    except SystemExit as exc:
        code = exc.code
    return Result(code, out.getvalue(), err.getvalue())


def ok(command: str, *args) -> Result:
    result = run(command, *args)
    assert result.code == 0, result.err
    return result
