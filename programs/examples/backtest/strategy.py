"""The trading strategy autoresearch improves: edit anything here.

position(prices) gets one asset's prices up to today (a list, oldest first)
and returns the position to hold until tomorrow: 1.0 is fully long, -1.0
fully short, 0.0 flat, at most 2.0 either way. The backtest in backtest.py
is fixed.
"""

FAST_WINDOW = 5          # days of the fast moving average
SLOW_WINDOW = 20         # days of the slow moving average
ENTRY_THRESHOLD = 0.01   # the averages must differ by this fraction to trade
VOL_WINDOW = 20          # days of returns the volatility is measured over
TARGET_VOL = 0.01        # daily volatility a full position is scaled to
MAX_LEVERAGE = 1.0       # the largest position, long or short


def mean(xs):
    return sum(xs) / len(xs)


def position(prices):
    if len(prices) < max(SLOW_WINDOW, VOL_WINDOW) + 1:
        return 0.0
    fast = mean(prices[-FAST_WINDOW:])
    slow = mean(prices[-SLOW_WINDOW:])
    gap = fast / slow - 1.0
    if abs(gap) < ENTRY_THRESHOLD:
        return 0.0
    recent = prices[-VOL_WINDOW - 1:]
    rets = [b / a - 1.0 for a, b in zip(recent, recent[1:])]
    m = mean(rets)
    vol = (sum((r - m) ** 2 for r in rets) / len(rets)) ** 0.5
    size = min(TARGET_VOL / vol, MAX_LEVERAGE) if vol > 0 else 0.0
    return size if gap > 0 else -size
