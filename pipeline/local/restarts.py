"""When a crashed child is started again, and when to stop trying.

The rule supervisord, circus and systemd share: restart at once at first, then
after a delay that doubles up to a ceiling, and give up only on a crash loop,
`burst` crashes within `window_s`, since restarting a child that cannot stay up
only hides why. A child that stayed up longer than the window starts again
from the shortest delay.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class Restarts:
    burst: int = 5
    window_s: float = 60.0
    first_s: float = 0.5
    max_s: float = 10.0
    _crashes: deque[float] = field(default_factory=deque)
    _delay: float = 0.0

    def after_crash(self, now: float) -> float | None:
        """Seconds to wait before starting the child again, or None: a crash loop."""
        while self._crashes and self._crashes[0] < now - self.window_s:
            self._crashes.popleft()
        if not self._crashes:
            self._delay = self.first_s
        self._crashes.append(now)
        if len(self._crashes) >= self.burst:
            return None
        delay, self._delay = self._delay, min(self._delay * 2, self.max_s)
        return delay

    def describe(self) -> str:
        return f"{len(self._crashes)} crashes within {self.window_s:g} s"
