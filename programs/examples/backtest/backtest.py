"""The fixed evaluation of the trading strategy in strategy.py.

DO NOT CHANGE: this file is the metric. It generates the same synthetic
prices on every run, asks the strategy for a position each day, trades it
with costs, and prints the annualised Sharpe ratio of the daily returns
after costs (higher is better) in the form autoresearch.toml reads.

Python standard library only.
"""

import math
import os
import resource
import sys
import time

import strategy

DAYS = 2520          # ten years of trading days
ASSETS = 4
COST = 0.0005        # 5 basis points per unit of position traded
SEED = 20261201


def synthetic_prices(days, assets, seed):
    """Prices from a seeded generator of our own (the same on every Python):
    daily log returns with a drift that switches between up, down and flat
    regimes every few months, a little momentum, and noise."""
    state = seed

    def uniform():
        nonlocal state
        state = (6364136223846793005 * state + 1442695040888963407) % (1 << 64)
        return ((state >> 11) + 0.5) / (1 << 53)

    def normal():
        return math.sqrt(-2.0 * math.log(uniform())) * math.cos(2.0 * math.pi * uniform())

    series = []
    for _ in range(assets):
        price, drift, last = 100.0, 0.0, 0.0
        prices = []
        for _ in range(days):
            if uniform() < 1 / 90:
                drift = (0.0012, -0.0012, 0.0)[int(uniform() * 3)]
            r = drift + 0.05 * last + 0.011 * normal()
            last = r
            price *= math.exp(r)
            prices.append(price)
        series.append(prices)
    return series


def main():
    budget = float(os.environ.get("AUTORESEARCH_BUDGET_SECONDS", "60"))
    start = time.time()
    series = synthetic_prices(DAYS, ASSETS, SEED)
    daily = [0.0] * (DAYS - 1)
    turnover = 0.0
    for prices in series:
        held = 0.0
        for t in range(DAYS - 1):
            # The position for tomorrow's return, from the prices up to today.
            pos = float(strategy.position(prices[: t + 1]))
            if not math.isfinite(pos) or abs(pos) > strategy_limit():
                print(f"FAIL: day {t}: position {pos} is not a number within ±{strategy_limit()}")
                sys.exit(1)
            ret = prices[t + 1] / prices[t] - 1.0
            daily[t] += (pos * ret - COST * abs(pos - held)) / ASSETS
            turnover += abs(pos - held) / ASSETS
            held = pos
    mean = sum(daily) / len(daily)
    sd = math.sqrt(sum((d - mean) ** 2 for d in daily) / (len(daily) - 1))
    sharpe = mean / sd * math.sqrt(252) if sd > 0 else 0.0
    equity, peak, drawdown = 1.0, 1.0, 0.0
    for d in daily:
        equity *= 1.0 + d
        peak = max(peak, equity)
        drawdown = max(drawdown, 1.0 - equity / peak)
    seconds = time.time() - start
    print("---")
    print(f"return_pct:   {100 * (equity - 1):.2f}")
    print(f"max_dd_pct:   {100 * drawdown:.2f}")
    print(f"turnover:     {turnover:.1f}")
    print(f"seconds:      {seconds:.2f}")
    print(f"peak_mb:      {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f}")
    if seconds > budget:
        print(f"FAIL: the backtest took {seconds:.1f} s, over the budget of {budget:g} s: make the strategy faster")
        sys.exit(1)
    print(f"sharpe:       {sharpe:.6f}")


def strategy_limit():
    """The largest position allowed, long or short: 2 times the capital."""
    return 2.0


if __name__ == "__main__":
    main()
