"""Small rules behind the web: a batch's outcome, percentiles, the SVG charts, money on screen."""
from __future__ import annotations

import pytest

from canceldesk.entrypoints.web import charts
from canceldesk.entrypoints.web.pages import money, safe_next
from canceldesk.service_layer.batches import derive_outcome
from canceldesk.service_layer.reports import percentile


@pytest.mark.parametrize("phase,total,statuses,outcome", [
    ("prechecking", 3, [], None),
    ("prechecked", 3, [], None),
    ("submitting", 3, ["completed"], "running"),                      # lines still to submit
    ("submitted", 3, ["completed", "executing", "completed"], "running"),
    ("submitted", 3, ["completed", "in_review", "completed"], "running"),
    ("submitted", 3, ["completed"] * 3, "completed"),
    ("submitted", 3, ["completed", "rejected", "completed"], "partial"),
    ("submitted", 3, ["completed", None, "completed"], "partial"),      # a line that never became a request
    ("submitted", 3, ["completed", "failed", "completed"], "partial"),  # failed = escalated, not "running"
    ("submitted", 2, ["rejected", "failed"], "failed"),
    ("submitted", 1, [None], "failed"),
])
def test_batch_outcome_is_derived_from_its_requests(phase, total, statuses, outcome):
    assert derive_outcome(phase, total, statuses) == outcome


def test_nearest_rank_percentiles():
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 90), percentile(values, 99)) == (50.0, 90.0, 99.0)
    assert percentile([7.0], 99) == 7.0 and percentile([], 50) is None


def test_charts_are_accessible_svg_with_escaped_labels():
    svg = charts.hbars([("<script>", [3]), ("退订", [1])], "Requests & kinds")
    assert svg.startswith("<svg") and 'role="img"' in svg and "<title>Requests &amp; kinds</title>" in svg
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    cols = charts.columns([("2026-11-01", 2), ("2026-11-02", 0)], "per day", series_b=[1, None])
    assert cols.count("<rect") == 3 and "11-01" in cols


def test_money_and_redirect_targets():
    assert money(123456) == "¥1,234.56" and money(-5) == "-¥0.05" and money(99, "EUR") == "€0.99"
    assert money(None) == "—"
    for bad in ("https://evil.example", "//evil.example", "/\\evil", None, 5):
        assert safe_next(bad) == "/"
    assert safe_next("/lines/13800138000?x=1") == "/lines/13800138000?x=1"


def test_csv_cells_never_start_a_formula():
    from canceldesk.entrypoints.web.dashboard import _cell
    assert _cell("=HYPERLINK(\"x\")") == "'=HYPERLINK(\"x\")" and _cell("@SUM(A1)") == "'@SUM(A1)"
    assert _cell("too_expensive") == "too_expensive" and _cell(-3) == -3
