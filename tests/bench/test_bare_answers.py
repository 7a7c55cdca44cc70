"""bench/api_load/bare_app.same_answers: the bench's check that the bare app's rows are the
data of Agrega's answer (a faster wrong answer must never pass)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench" / "api_load"))

import bare_app  # noqa: E402

PAGE = {"items": [{"id": 7, "status": "A", "created_at": "2026-12-07T10:00:00.123Z", "grants_access": True},
                  {"id": 9, "status": "P", "created_at": "2026-12-07T10:00:01Z", "grants_access": False}],
        "next_cursor": 9}
ROWS = [{"id": 7, "status": "A", "created_at": "2026-12-07 10:00:00.123456+00:00", "customer_id": 3},
        {"id": 9, "status": "P", "created_at": "2026-12-07 10:00:01+00:00", "customer_id": 4},
        {"id": 12, "status": "A", "created_at": "2026-12-07 10:00:02+00:00", "customer_id": 4}]
TOKEN = [{"id": 1, "key": "x"}]


def test_the_same_data_passes():
    assert bare_app.same_answers(PAGE, {"results": [TOKEN, ROWS]}) == []
    detail = {"id": 9, "status": "P", "products": [{"id": 20, "kind": "I"}, {"id": 21, "kind": "S"}]}
    assert bare_app.same_answers(detail, {"results": [ROWS[1:2], [{"id": 20, "kind": "I"}, {"id": 21, "kind": "S"}]]}) == []


def test_a_changed_value_an_id_or_the_cursor_fails():
    changed = {**PAGE, "items": [dict(PAGE["items"][0], status="B"), PAGE["items"][1]]}
    assert bare_app.same_answers(changed, {"results": [ROWS]})
    late = {**PAGE, "items": [dict(PAGE["items"][0], created_at="2026-12-07T10:00:00.124Z"), PAGE["items"][1]]}
    assert bare_app.same_answers(late, {"results": [ROWS]})
    assert bare_app.same_answers({**PAGE, "items": PAGE["items"][::-1]}, {"results": [ROWS]})
    assert bare_app.same_answers(PAGE, {"results": [ROWS[:2]]})  # a next cursor with no row more
    assert bare_app.same_answers({**PAGE, "next_cursor": None}, {"results": [ROWS]})
    assert bare_app.same_answers({"items": [], "next_cursor": None}, {"results": [TOKEN, ROWS]})
    assert bare_app.same_answers({"items": [], "next_cursor": None}, {"results": [TOKEN, []]}) == []
