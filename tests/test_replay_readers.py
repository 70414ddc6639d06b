"""Log readers: JSONL (plain/gzip) and MovieLens layouts."""

import gzip
import json
import zipfile

import pytest

from streamrec.replay.log_reader import parse_lines, read_jsonl
from streamrec.replay.movielens import age_bucket, read_movielens, write_jsonl


def ev(eid, ts, user="u1", item="i1", **kw):
    return json.dumps({"event_id": eid, "ts": ts, "user": user, "item": item, **kw})


LINES = [
    ev("a", 1_700_000_005),
    "{not json",
    ev("b", 1_700_000_001),
    json.dumps({"event_id": "c", "ts": 1_700_000_002, "user": "u1"}),  # missing item
    "",
    ev("d", 1_700_000_001, type="teleport"),
    ev("e", 1_700_000_001, item="i2"),  # same ts as b: must stay after b
    '{"event_id": "f", "ts": NaN, "user": "u", "item": "i"}',
    "[1, 2]",
    ev("g", 5),  # ts out of range
]


def test_bad_lines_are_counted_per_reason_and_never_raise():
    events, s = parse_lines(LINES)
    assert [e.event_id for e in events] == ["b", "e", "a"]
    assert s.n_lines == 10 and s.n_blank == 1 and s.n_valid == 3
    assert s.invalid == {
        "malformed_json": 1,
        "missing_field": 1,
        "unknown_type": 1,
        "non_finite_number": 1,
        "not_an_object": 1,
        "ts_out_of_range": 1,
    }
    assert s.examples["malformed_json"] == 2
    assert s.n_out_of_order == 2


def test_sort_is_stable_for_equal_timestamps():
    lines = [ev(f"e{n}", 1_700_000_000 + (n % 3), item=f"i{n}") for n in range(30)]
    events, _ = parse_lines(lines)
    ts = [e.ts for e in events]
    assert ts == sorted(ts)
    for t in set(ts):
        ids = [int(e.event_id[1:]) for e in events if e.ts == t]
        assert ids == sorted(ids)


def test_plain_gzip_and_truncated_gzip(tmp_path):
    plain = tmp_path / "log.jsonl"
    plain.write_text("\n".join(LINES) + "\n")
    gz = tmp_path / "log.jsonl.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    a, sa = read_jsonl(plain)
    b, sb = read_jsonl(gz)
    assert a == b and sa.invalid == sb.invalid
    big = "\n".join(ev(f"x{n}", 1_700_000_000 + n, item=f"i{n}") for n in range(2000)).encode()
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(gzip.compress(big)[:-200])
    events, s = read_jsonl(cut)
    assert 0 < len(events) < 2000 and s.invalid.get("truncated_file") == 1


def test_write_jsonl_round_trips_through_the_reader(tmp_path):
    events, _ = parse_lines(
        [
            ev(
                "a",
                1_700_000_000,
                context={"age": "18-24"},
                item_attributes={"genres": ["drama", "war"]},
                value=4.0,
                type="rating",
            )
        ]
    )
    p = tmp_path / "out.jsonl.gz"
    assert write_jsonl(events, p) == 1
    again, s = read_jsonl(p)
    assert again == events and s.n_invalid == 0


HEADER = "user\titem\trating\ttimestamp\ttitle\trelease_date\tgenres\tage\tgender\toccupation\tzip_code"
ROWS = [
    "7\t50\t5.0\t874731927000000000\tStar Wars\t0\taction, sci-fi\t44\tF\twriter\t02138",
    "7\t51\t4.0\t874731910000000000\tX\t0\tdrama\t17\tF\twriter\t02138",
    "8\t50\t3.0\t874731910000000000\tStar Wars\t0\taction, sci-fi\t60\tM\tnone\t94305",
    "9\tbroken",
]


def test_movielens_combined_csv_and_zip(tmp_path):
    csv = tmp_path / "ml_100k.csv"
    csv.write_text("\n".join([HEADER] + ROWS) + "\n")
    z = tmp_path / "ml.zip"
    with zipfile.ZipFile(z, "w") as f:
        f.write(csv, "ml_100k.csv")
        f.writestr("__MACOSX/._ml_100k.csv", b"\x00junk")
    for path in (csv, z):
        events, s = read_movielens(path)
        assert [e.event_id for e in events] == ["ml-1", "ml-2", "ml-0"]  # stable ts sort
        assert s.n_valid == 3 and s.invalid == {"too_few_columns": 1}
        e = events[2]
        assert e.ts == 874731927.0 and e.type == "rating" and e.value == 5.0
        assert e.context == {"age": "35-44", "gender": "F", "occupation": "writer", "zip": "02"}
        assert e.item_attributes == {"genres": ("action", "sci-fi")}


def test_movielens_classic_u_data_with_side_files(tmp_path):
    (tmp_path / "u.data").write_text("1\t10\t4\t881250949\n2\t10\t3\t881250900\n1\t11\t5\t881250950\n")
    (tmp_path / "u.user").write_text("1|24|M|technician|85711\n2|53|F|other|94043\n")
    flags = ["0"] * 19
    flags[1], flags[8] = "1", "1"  # action, drama
    (tmp_path / "u.item").write_text("10|Toy|01-Jan-1995||http://x|" + "|".join(flags) + "\n")
    events, s = read_movielens(tmp_path / "u.data")
    assert [e.event_id for e in events] == ["ml-1", "ml-0", "ml-2"]
    assert events[1].context == {"age": "18-24", "gender": "M", "occupation": "technician", "zip": "85"}
    assert events[1].item_attributes == {"genres": ("action", "drama")}
    assert events[2].item_attributes == {}  # item 11 not in u.item
    alone = tmp_path / "solo"
    alone.mkdir()
    (alone / "u.data").write_text("1\t10\t4\t881250949\n")
    only, _ = read_movielens(alone / "u.data")
    assert only[0].context == {} and only[0].value == 4.0


@pytest.mark.parametrize(
    "age,bucket", [(17, "<18"), (18, "18-24"), (34, "25-34"), (49, "45-49"), (55, "50-55"), (56, "56+"), ("x", "")]
)
def test_age_buckets(age, bucket):
    assert age_bucket(age) == bucket
