"""Replay report: first/second-half figures (issue 11.3) and the Markdown table with intervals."""

import numpy as np

from streamrec.contract.events import ClickEvent
from streamrec.replay.baselines import ItemKNN, Popularity
from streamrec.replay.metrics import hit_rate
from streamrec.replay.prequential import run_prequential
from streamrec.replay.report import format_table, markdown_table, write_report


def events(n=301, seed=0):
    rng = np.random.default_rng(seed)
    return [ClickEvent(f"e{t}", 1.7e9 + t, f"u{rng.integers(9)}", f"i{rng.integers(20)}") for t in range(n)]


class PrefixPopularity(Popularity):
    name = "prefix-pop"
    max_events = 100


def test_halves_partition_the_evaluated_events():
    res = run_prequential(events(), [Popularity(), ItemKNN(), PrefixPopularity()], stride=2, chunk=50)
    first, second = res.on_range(0, 150), res.on_range(150, 301)
    for name in ("popularity", "item-knn"):
        m = res.models[name]
        a, b = first[name][0], second[name][0]
        assert a.n + b.n == m.all.n == 151
        assert a.hr == hit_rate(m.ranks[:150][res.evaluate[:150]])
        assert abs((a.hr * a.n + b.hr * b.n) / m.all.n - m.all.hr) < 1e-12
    # a model that replayed only the first 100 events has nothing in the second half
    assert first["prefix-pop"][0].n == 50 and second["prefix-pop"][0].n == 0


def test_table_and_report_show_intervals_and_halves(tmp_path):
    res = run_prequential(events(), [Popularity(), ItemKNN()], chunk=60)
    second = res.on_range(150, 301)
    text, md = format_table(res), markdown_table(res)
    for name in ("popularity", "item-knn"):
        s = second[name][0]
        assert f"{s.hr:.4f} ± {s.hr_ci:.4f}" in text and f"{s.hr:.4f} ± {s.hr_ci:.4f}" in md
    assert "halves: events 0..149 and 150..300" in text
    assert md.count("\n| ") == 3  # header + two models
    files = write_report(res, tmp_path / "r")
    assert files["table"].read_text() == md
    assert files["rolling_hr"].read_bytes()[:4] == b"\x89PNG"
