"""MovieLens-100K adapter: ratings -> :class:`~streamrec.contract.events.ClickEvent` in event-time order.

Accepted inputs
* the tab-separated ``ml_100k.csv`` (header ``user item rating timestamp title release_date
  genres age gender occupation zip_code``, timestamps in nanoseconds, genres ``"comedy, romance"``),
  or a ``.zip`` holding it;
* the classic GroupLens ``u.data`` (``user item rating ts-seconds``, tab, no header) with optional
  ``u.user`` (``id|age|gender|occupation|zip``), ``u.item`` (``id|title|...|19 genre flags``) and
  ``u.genre`` beside it, or a ``.zip`` holding ``.../u.data``.

Each row becomes ``event_id="ml-<row>"`` (0-based data row of the file), ``ts`` in seconds,
``type="rating"``, ``value=rating``, ``context={"age": bucket, "gender", "occupation", "zip": first
two characters}`` and ``item_attributes={"genres": [...]}``. Rows are validated by the event contract
(bad rows are counted, never fatal) and stably sorted by ``ts``.

>>> rows = [["1", "5", "4", "874731910000000000", "T", "0", "comedy, drama", "21", "M", "student", "48823"]]
>>> e = events_from_rows(rows, ns=True)[0][0]
>>> e.event_id, e.ts, e.context["age"], e.context["zip"], e.item_attributes["genres"]
('ml-0', 874731910.0, '18-24', '48', ('comedy', 'drama'))
"""

from __future__ import annotations

import csv
import gzip
import io
import zipfile
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from streamrec.contract.events import ClickEvent, InvalidEvent, event_from_dict
from streamrec.contract.messages import dumps
from streamrec.replay.log_reader import ReadSummary, reason_code

#: Genre names of the classic u.item flags, used when no u.genre is present.
CLASSIC_GENRES = (
    "unknown",
    "action",
    "adventure",
    "animation",
    "children's",
    "comedy",
    "crime",
    "documentary",
    "drama",
    "fantasy",
    "film-noir",
    "horror",
    "musical",
    "mystery",
    "romance",
    "sci-fi",
    "thriller",
    "war",
    "western",
)
_AGE_EDGES = ((18, "<18"), (25, "18-24"), (35, "25-34"), (45, "35-44"), (50, "45-49"), (56, "50-55"))


def age_bucket(age: str | int | float) -> str:
    """MovieLens-1M style age bucket (``"<18"``, ``"18-24"``, ..., ``"56+"``); ``""`` if unknown."""
    try:
        a = float(age)
    except (TypeError, ValueError):
        return ""
    for edge, name in _AGE_EDGES:
        if a < edge:
            return name
    return "56+"


def user_context(age: str, gender: str, occupation: str, zip_code: str) -> dict[str, str]:
    """User attributes as event context (empty values dropped)."""
    ctx = {
        "age": age_bucket(age),
        "gender": gender.strip(),
        "occupation": occupation.strip(),
        "zip": zip_code.strip()[:2],
    }
    return {k: v for k, v in ctx.items() if v}


# One rating row before validation: user, item, rating, timestamp, genres, user context;
# None stands for a row with too few columns (counted as invalid, keeps the row number).
_Record = tuple[str, str, str, str, list[str], dict[str, str]] | None


def events_from_rows(rows: Iterable[Sequence[str]], ns: bool) -> tuple[list[ClickEvent], ReadSummary]:
    """Rows of the combined csv layout (without header) -> sorted events and a summary."""
    dicts: list[_Record] = []
    for row in rows:
        if len(row) < 4:
            dicts.append(None)
            continue
        user, item, rating, ts = row[0], row[1], row[2], row[3]
        genres = [g.strip() for g in row[6].split(",") if g.strip()] if len(row) > 6 else []
        ctx = user_context(*row[7:11]) if len(row) >= 11 else {}
        dicts.append((user, item, rating, ts, genres, ctx))
    return _to_events(dicts, ns)


def _to_events(records: list[_Record], ns: bool) -> tuple[list[ClickEvent], ReadSummary]:
    summary = ReadSummary()
    counts: Counter[str] = Counter()
    events: list[ClickEvent] = []
    for row, rec in enumerate(records):
        summary.n_lines += 1
        try:
            if rec is None:
                raise InvalidEvent("too_few_columns: expected user item rating timestamp")
            user, item, rating, ts, genres, ctx = rec
            try:
                ts_s = float(ts) / 1e9 if ns else float(ts)
                value = float(rating)
            except ValueError:
                raise InvalidEvent("not_a_number: rating or timestamp") from None
            obj = {
                "event_id": f"ml-{row}",
                "ts": ts_s,
                "user": user,
                "item": item,
                "type": "rating",
                "value": value,
                "context": ctx,
            }
            if genres:
                obj["item_attributes"] = {"genres": genres}
            events.append(event_from_dict(obj))
        except InvalidEvent as exc:
            code = reason_code(exc.reason)
            counts[code] += 1
            summary.examples.setdefault(code, row + 1)
    summary.n_valid = len(events)
    summary.invalid = dict(counts)
    events.sort(key=lambda e: e.ts)
    return events, summary


def _read_combined(text: str) -> tuple[list[ClickEvent], ReadSummary]:
    reader = csv.reader(io.StringIO(text), delimiter="\t")
    header = next(reader, None)
    if header and header[0].strip().lower() != "user":  # no header: first row is data
        reader = csv.reader(io.StringIO(text), delimiter="\t")
    return events_from_rows(reader, ns=True)


def _read_classic(
    data: str, users: str | None, items: str | None, genre: str | None
) -> tuple[list[ClickEvent], ReadSummary]:
    names = list(CLASSIC_GENRES)
    if genre:
        names = [ln.split("|")[0] for ln in genre.splitlines() if "|" in ln] or names
    ctx_of: dict[str, dict[str, str]] = {}
    for ln in (users or "").splitlines():
        f = ln.split("|")
        if len(f) >= 5:
            ctx_of[f[0]] = user_context(f[1], f[2], f[3], f[4])
    genres_of: dict[str, list[str]] = {}
    for ln in (items or "").splitlines():
        f = ln.split("|")
        flags = f[-len(names) :] if len(f) > len(names) else []
        genres_of[f[0]] = [n for n, x in zip(names, flags) if x.strip() == "1"]
    records: list[_Record] = []
    for ln in data.splitlines():
        if not ln.strip():
            continue
        f = ln.split("\t") if "\t" in ln else ln.split()
        if len(f) < 4:
            records.append(None)
            continue
        records.append((f[0], f[1], f[2], f[3], genres_of.get(f[1], []), ctx_of.get(f[0], {})))
    return _to_events(records, ns=False)


def _decode(b: bytes) -> str:
    return b.decode("utf-8", errors="replace") if b[:1] else ""


def read_movielens(path: str | Path) -> tuple[list[ClickEvent], ReadSummary]:
    """Read ML-100K in any accepted layout (see module docstring) -> sorted events, summary."""
    p = Path(path)
    if zipfile.is_zipfile(p):
        with zipfile.ZipFile(p) as z:
            names = [n for n in z.namelist() if not n.startswith("__MACOSX") and "/._" not in n]
            csvs = [n for n in names if n.endswith(".csv")]
            if csvs:
                return _read_combined(_decode(z.read(csvs[0])))
            data = [n for n in names if n.endswith("u.data")]
            if not data:
                raise FileNotFoundError(f"{p}: no .csv or u.data inside the zip")
            base = data[0][: -len("u.data")]

            def member(name: str) -> str | None:
                return _decode(z.read(base + name)) if base + name in names else None

            return _read_classic(_decode(z.read(data[0])), member("u.user"), member("u.item"), member("u.genre"))
    raw = p.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    text = _decode(raw)
    first = text.split("\n", 1)[0]
    if first.lower().startswith("user\t") or first.count("\t") >= 6:
        return _read_combined(text)

    def beside(name: str) -> str | None:
        q = p.with_name(name)
        return q.read_text(encoding="latin-1") if q.exists() else None

    return _read_classic(text, beside("u.user"), beside("u.item"), beside("u.genre"))


def write_jsonl(events: Iterable[ClickEvent], path: str | Path) -> int:
    """Write events as JSONL in the contract (gzip if the name ends in ``.gz``); returns the count."""
    p = Path(path)
    opener = gzip.open if p.suffix == ".gz" else open
    n = 0
    with opener(p, "wb") as f:
        for e in events:
            f.write(dumps(e.to_dict()) + b"\n")
            n += 1
    return n
