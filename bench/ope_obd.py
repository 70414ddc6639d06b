"""Off-policy evaluation on the Open Bandit Dataset sample: each logged policy's CTR estimated from the other's log.

    python bench/ope_obd.py /work/shared/data/open_bandit [--n-bootstrap 1000] [--n-refit 50]

Prints IPS, SNIPS, DM, DR (and the replay method on the uniform log) with 95%
intervals next to the on-policy truth (the target's own log CTR, Wilson
interval) and whether each interval contains the truth. DM's interval is a refit
bootstrap (the reward model refitted on every resample), since the model's own
error is DM's main error; the usual round bootstrap with the model held fixed is
printed too, as ``dm-fixed-model``, to show how much too narrow it is.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streamrec.replay.ab_report import wilson_interval  # noqa: E402
from streamrec.replay.ope.log_formats import obd_rounds  # noqa: E402
from streamrec.replay.ope.logged_rounds import dm_refit_interval  # noqa: E402
from streamrec.replay.ope.suite import estimate_rounds  # noqa: E402
from streamrec.replay.open_bandit import load_open_bandit  # noqa: E402


def evaluate(log, target: str, bts, truth_log, n_bootstrap: int, n_refit: int) -> None:
    t0 = time.perf_counter()
    rounds = obd_rounds(log, target, bts)
    res = estimate_rounds(rounds, n_bootstrap=n_bootstrap, dm_refits=0)  # the same path as `streamrec ope`
    if n_refit > 0:
        refit = dm_refit_interval(rounds, n_refit, value=res["dm"]["mean"])
        res["dm-fixed-model"] = res["dm"]
        res["dm"] = {**res["dm"], "lower": refit["lower"], "upper": refit["upper"]}
    truth = truth_log.reward.mean()
    lo, hi = wilson_interval(int(truth_log.reward.sum()), len(truth_log))
    print(
        f"\n{target!r} estimated from the {'random' if target == 'bts' else 'bts'} log "
        f"({len(log)} impressions, {int(log.reward.sum())} clicks); "
        f"on-policy truth {truth:.5f} [{lo:.5f}, {hi:.5f}] (Wilson 95%)  [{time.perf_counter() - t0:.1f}s]"
    )
    print(f"  {'estimator':<15}{'estimate':>9}  {'95% interval':<20}{'contains truth':>15}{'overlaps truth CI':>19}")
    covered = []
    for name, e in res.items():
        inside = e["lower"] <= truth <= e["upper"]
        if name != "dm-fixed-model":
            covered.append(inside)
        overlap = e["lower"] <= hi and lo <= e["upper"]
        print(
            f"  {name:<15}{e['mean']:>9.5f}  [{e['lower']:.5f}, {e['upper']:.5f}]  {str(inside):>13}{str(overlap):>19}"
        )
    print(f"  every estimator's interval contains the truth: {all(covered)}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data_dir")
    ap.add_argument("--n-bootstrap", type=int, default=1000)
    ap.add_argument("--n-refit", type=int, default=50, help="refit-bootstrap resamples for DM (0 = skip)")
    args = ap.parse_args(argv)
    d = Path(args.data_dir)
    random_log, bts_log = load_open_bandit(d / "random"), load_open_bandit(d / "bts")
    print("BTS policy = empirical slot marginals of the BTS log (time-averaged); random = 1/80 per slot.")
    evaluate(random_log, "bts", bts_log, bts_log, args.n_bootstrap, args.n_refit)
    evaluate(bts_log, "random", None, random_log, args.n_bootstrap, args.n_refit)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
