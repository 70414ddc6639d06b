"""``streamrec generate`` writes contract-valid traffic (and the invalid lines it is asked for)."""

from __future__ import annotations

import argparse

import pytest

from streamrec.contract.events import InvalidEvent, parse_click
from streamrec.shell.generate_command import add_generate_parser


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    add_generate_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["generate", *argv])
    return args.func(args)


def test_generated_lines_parse_under_the_contract(tmp_path):
    out = tmp_path / "clicks.jsonl"
    assert _run(["--events", "300", "--users", "20", "--items", "50", "--invalid-every", "100", "--out", str(out)]) == 0
    valid, invalid = 0, 0
    for line in out.read_bytes().splitlines():
        try:
            ev = parse_click(line)
            valid += 1
            assert ev.user.startswith("u") and ev.item.startswith("i")
        except InvalidEvent:
            invalid += 1
    assert (valid, invalid) == (300, 3)


def test_same_seed_same_traffic(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    _run(["--events", "50", "--seed", "7", "--out", str(a)])
    _run(["--events", "50", "--seed", "7", "--out", str(b)])
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize("flag", ["--events", "--users", "--items"])
def test_non_positive_sizes_are_refused(flag, capsys):
    assert _run([flag, "0"]) == 2
    assert flag in capsys.readouterr().err
