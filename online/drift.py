"""Drift detection on the online hit indicator (or the positive's log-loss) with ADWIN.

ADWIN (Bifet & Gavaldà 2007) keeps a window whose two sub-windows' means differ by less
than ``eps_cut(delta)``; a larger gap is a drift. The monitor restarts the detector after
each drift and keeps the values fed since then (bounded), so ``values()`` replayed into a
fresh monitor reproduces the detector exactly (used by ``Recommender.from_state``).

>>> m = DriftMonitor(delta=0.002)
>>> for t in range(3000): _ = m.update(0.0 if t < 1500 else 1.0)
>>> m.n_detections >= 1
True
"""

from __future__ import annotations

import numpy as np
from river.drift import ADWIN


class DriftMonitor:
    """ADWIN over a bounded signal in [0, 1]; counts detections."""

    def __init__(self, delta: float = 0.002, max_values: int = 1 << 14) -> None:
        self.delta = delta
        self.max_values = max_values
        self.n_detections = 0
        self.drift_detected = False
        self._reset([])

    def _reset(self, keep: list[float]) -> None:
        self._adwin = ADWIN(delta=self.delta)
        self._values: list[float] = []
        for x in keep:
            self._adwin.update(x)
            self._values.append(x)

    def update(self, x: float) -> bool:
        """Feed one value (clipped to [0, 1]); True when a drift is detected now."""
        x = 0.0 if x != x else min(max(float(x), 0.0), 1.0)  # noqa: PLR0124 (NaN test)
        if len(self._values) >= self.max_values:
            self._reset(self._values[self.max_values // 2 :])
        self._adwin.update(x)
        self._values.append(x)
        self.drift_detected = bool(self._adwin.drift_detected)
        if self.drift_detected:
            self.n_detections += 1
            self._reset([])
        return self.drift_detected

    def update_many(self, xs: np.ndarray) -> int:
        """``update`` with each value in turn (the same detections, one call per batch);
        returns how many drifts were detected."""
        clipped = [0.0 if x != x else min(max(x, 0.0), 1.0) for x in np.asarray(xs, np.float64).ravel().tolist()]
        if not clipped:
            return 0
        detected = 0
        adwin, vals = self._adwin, self._values
        for x in clipped:
            if len(vals) >= self.max_values:
                self._reset(vals[self.max_values // 2 :])
                adwin, vals = self._adwin, self._values
            adwin.update(x)
            vals.append(x)
            if adwin.drift_detected:
                detected += 1
                self._reset([])
                adwin, vals = self._adwin, self._values
        self.n_detections += detected
        self.drift_detected = detected > 0 and not vals  # as after ``update``: the last value detected
        return detected

    def values(self) -> np.ndarray:
        """Values fed since the detector's last restart (for persistence)."""
        return np.asarray(self._values, dtype=np.float64)

    def restore(self, values: np.ndarray, n_detections: int) -> None:
        """Rebuild the detector from ``values()`` of another monitor."""
        self.n_detections = int(n_detections)
        self._reset([float(x) for x in values])
