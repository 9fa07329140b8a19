"""Rule 5: exposure limits, in % of equity (or x equity for leverage).

- effective leverage (gross notional / equity): `leverage_warn` alerts, `leverage_hard` cuts;
- per-symbol notional cap `max_symbol_notional_pct` (all legs of the symbol);
- correlated-cluster cap `max_cluster_pct` on the oriented signed notional of each cluster
  (connected components of |corr| > `cluster_threshold`; an anti-correlated member counts with the
  opposite sign, so long A + short B moving opposite ways is one bet, not a hedge);
- sector caps `sector_caps[name]` on the gross notional of `sectors[name]` (symbols or base assets);
- beta-weighted net exposure `max_net_beta_pct` (only when betas are given).

Above a hard limit the largest contributing symbol is cut just enough to get back under it (fewest
lot steps), then the next one if closing it was not enough. A symbol is cut net side first and its
hedge only together with the leg it hedges, so no cap ever creates or grows a net exposure: a
hedged book (long 2 / short 1.9 BTC) over a leverage cap loses 0.1 of its long first, then both
legs shrink together — it never becomes a naked 1.8 BTC short.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from guardbot.domain import AccountSnapshot
from guardbot.guard.context import Condition, Work, episode
from guardbot.guard.decisions import (
    RULE_CLUSTER_CAP,
    RULE_LEVERAGE,
    RULE_NET_BETA,
    RULE_SECTOR_CAP,
    RULE_SYMBOL_CAP,
    num,
    qty,
    short,
)
from guardbot.guard.symbol_cuts import smallest_symbol_cut
from guardbot.guard.whatif import equity_of
from guardbot.risk.exposure import in_sector

Metric = Callable[[AccountSnapshot], float]


def leverage(s: AccountSnapshot) -> float:
    eq = equity_of(s)
    gross = math.fsum(p.notional for p in s.positions)
    return gross / eq if eq > 0 else (0.0 if gross == 0 else math.inf)


def _pct(value: float, eq: float) -> float:
    return value / eq * 100.0 if eq > 0 else (0.0 if value == 0 else math.inf)


def _pct_of_equity(value: float, s: AccountSnapshot) -> float:
    return _pct(value, equity_of(s))


def symbol_pct(symbol: str) -> Metric:
    return lambda s: _pct_of_equity(math.fsum(p.notional for p in s.positions if p.symbol == symbol), s)


def symbol_pcts(s: AccountSnapshot) -> dict[str, float]:
    """`symbol_pct` of every symbol held, in one pass over the book (not one pass per symbol)."""
    notionals: dict[str, list[float]] = {}
    for p in s.positions:
        notionals.setdefault(p.symbol, []).append(p.notional)
    eq = equity_of(s)
    return {symbol: _pct(math.fsum(n), eq) for symbol, n in notionals.items()}


def _corr(correlations: Mapping[tuple[str, str], float], a: str, b: str) -> float | None:
    v = correlations.get((a, b))
    return correlations.get((b, a)) if v is None else v


def clusters(
    symbols: Sequence[str], correlations: Mapping[tuple[str, str], float], threshold: float
) -> list[dict[str, int]]:
    """Connected components (|corr| > threshold) of two or more symbols, each member with its sign
    relative to the component's first member (signs propagate along the linking edges)."""
    out: list[dict[str, int]] = []
    done: set[str] = set()
    for start in symbols:
        if start in done:
            continue
        signs = {start: 1}
        queue = [start]
        while queue:
            a = queue.pop()
            for b in symbols:
                if b in signs:
                    continue
                c = _corr(correlations, a, b)
                if c is not None and abs(c) > threshold:
                    signs[b] = signs[a] * (1 if c > 0 else -1)
                    queue.append(b)
        done.update(signs)
        if len(signs) > 1:
            out.append(signs)
    return out


def cluster_pct(signs: Mapping[str, int]) -> Metric:
    return lambda s: abs(
        _pct_of_equity(
            math.fsum(signs[p.symbol] * p.signed_notional for p in s.positions if p.symbol in signs), s
        )
    )


def sector_pct(names: set[str]) -> Metric:
    return lambda s: _pct_of_equity(
        math.fsum(p.notional for p in s.positions if in_sector(p.symbol, names)), s
    )


def net_beta_pct(betas: Mapping[str, float]) -> Metric:
    return lambda s: abs(
        _pct_of_equity(math.fsum(betas.get(p.symbol, 1.0) * p.signed_notional for p in s.positions), s)
    )


def _enforce(
    w: Work,
    rule: str,
    metric: Metric,
    limit: float,
    contributors: Contributors,
    reason: str,
    since: int,
    *,
    net_only: bool = False,
) -> None:
    """Cut the largest contributing symbols (in the working book) until `metric <= limit`.

    Each symbol is cut net side first, then (unless `net_only`) both legs together: a cap never
    creates or grows a net exposure (see symbol_cuts.py)."""
    tried: set[str] = set()
    while metric(w.working) > limit:
        symbols = [s for s in contributors(w.working) if s not in tried and not w.limits.ignores(s)]
        if not symbols:
            return
        symbol = symbols[0]
        tried.add(symbol)
        cuts, reached = smallest_symbol_cut(
            w.working, symbol, lambda s: metric(s) <= limit, w.fee, net_only=net_only
        )
        for side, contracts in cuts:
            leg = next(p for p in w.working.positions if p.symbol == symbol and p.side is side)
            what = f"cut {short(symbol)} {side.value} {qty(contracts)} of {qty(leg.contracts)}"
            w.cut(rule, leg, contracts, f"{reason}: {what}", episode(rule, symbol, side, since))
        if reached:
            return


Contributors = Callable[[AccountSnapshot], list[str]]


def _largest(w: Work, keep: Callable[[str], bool]) -> Contributors:
    """Symbols by gross notional, biggest first (dust symbols are never blamed)."""

    def pick(s: AccountSnapshot) -> list[str]:
        gross: dict[str, float] = {}
        for p in s.positions:
            if keep(p.symbol) and not w.limits.ignores(p.symbol):
                gross[p.symbol] = gross.get(p.symbol, 0.0) + p.notional
        return sorted(
            (sym for sym, g in gross.items() if g >= w.limits.dust_notional), key=lambda x: (-gross[x], x)
        )

    return pick


def _check_leverage(w: Work) -> None:
    lim = w.limits
    lev = leverage(w.snapshot)
    key = "leverage|account"
    w.reading(key, f"effective leverage {lev:.2f}x")
    level = w.level(key, [("warn", lev > lim.leverage_warn), ("reduce", lev > lim.leverage_hard)])
    if level == "warn":
        reason = f"effective leverage {lev:.2f}x > warn {lim.leverage_warn:g}x"
        w.raise_condition(Condition(key, RULE_LEVERAGE, level, "warning", reason))
    elif level == "reduce":
        reason = f"effective leverage {lev:.2f}x > hard {lim.leverage_hard:g}x"
        since = w.raise_condition(Condition(key, RULE_LEVERAGE, level, "critical", reason))
        w.reducing.append(reason)
        _enforce(w, RULE_LEVERAGE, leverage, lim.leverage_hard, _largest(w, lambda s: True), reason, since)


def _check_symbol(w: Work, symbol: str, value: float) -> None:
    """`value`: `symbol_pct(symbol)` of the snapshot, computed for all symbols in one pass."""
    cap = w.limits.max_symbol_notional_pct
    metric = symbol_pct(symbol)
    key = f"symbol_cap|{symbol}"
    w.reading(key, f"{short(symbol)} notional {value:.0f}% of equity")
    if w.level(key, [("reduce", value > cap)]) is None:
        return
    reason = f"{short(symbol)} notional {value:.0f}% of equity > cap {cap:g}%"
    since = w.raise_condition(Condition(key, RULE_SYMBOL_CAP, "reduce", "warning", reason, symbol))
    w.reducing.append(reason)
    _enforce(w, RULE_SYMBOL_CAP, metric, cap, _largest(w, lambda s: s == symbol), reason, since)


def _check_cluster(w: Work, signs: Mapping[str, int]) -> None:
    cap = w.limits.max_cluster_pct
    metric = cluster_pct(signs)
    value = metric(w.snapshot)
    names = "+".join(sorted(short(s) for s in signs))
    key = f"cluster_cap|{'+'.join(sorted(signs))}"
    w.reading(key, f"cluster {names} {value:.0f}% of equity")
    if w.level(key, [("reduce", value > cap)]) is None:
        return
    reason = f"correlated cluster {names} {value:.0f}% of equity > cap {cap:g}%"
    since = w.raise_condition(Condition(key, RULE_CLUSTER_CAP, "reduce", "warning", reason))
    w.reducing.append(reason)
    total = math.fsum(signs[p.symbol] * p.signed_notional for p in w.snapshot.positions if p.symbol in signs)
    direction = 1 if total >= 0 else -1

    def adds_to_cluster(s: AccountSnapshot) -> list[str]:
        # symbols whose *net* points the cluster's way, by the size of that net
        net = _net_notional(s, set(signs))
        same = [sym for sym, n in net.items() if signs[sym] * n * direction > 0]
        return sorted(same, key=lambda sym: (-abs(net[sym]), sym))

    _enforce(w, RULE_CLUSTER_CAP, metric, cap, adds_to_cluster, reason, since, net_only=True)


def _check_sector(w: Work, sector: str, cap: float) -> None:
    members = set(w.limits.sectors.get(sector, ()))
    metric = sector_pct(members)
    value = metric(w.snapshot)
    key = f"sector_cap|{sector}"
    w.reading(key, f"sector {sector} {value:.0f}% of equity")
    if w.level(key, [("reduce", value > cap)]) is None:
        return
    reason = f"sector {sector} gross {value:.0f}% of equity > cap {cap:g}%"
    since = w.raise_condition(Condition(key, RULE_SECTOR_CAP, "reduce", "warning", reason))
    w.reducing.append(reason)
    _enforce(w, RULE_SECTOR_CAP, metric, cap, _largest(w, lambda s: in_sector(s, members)), reason, since)


def _check_net_beta(w: Work, betas: Mapping[str, float]) -> None:
    cap = w.limits.max_net_beta_pct
    metric = net_beta_pct(betas)
    value = metric(w.snapshot)
    key = "net_beta|account"
    net = math.fsum(betas.get(p.symbol, 1.0) * p.signed_notional for p in w.snapshot.positions)
    w.reading(key, f"beta-weighted net {num(net)} ({value:.0f}% of equity)")
    if w.level(key, [("reduce", value > cap)]) is None:
        return
    reason = f"beta-weighted net exposure {value:.0f}% of equity > cap {cap:g}%"
    since = w.raise_condition(Condition(key, RULE_NET_BETA, "reduce", "warning", reason))
    w.reducing.append(reason)
    direction = 1 if net >= 0 else -1

    def contributors(s: AccountSnapshot) -> list[str]:
        net = _net_notional(s, None)
        weighted = {sym: betas.get(sym, 1.0) * n for sym, n in net.items()}
        same = [sym for sym, b in weighted.items() if b * direction > 0]
        return sorted(same, key=lambda sym: (-abs(weighted[sym]), sym))

    _enforce(w, RULE_NET_BETA, metric, cap, contributors, reason, since, net_only=True)


def _net_notional(s: AccountSnapshot, only: set[str] | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for p in s.positions:
        if only is None or p.symbol in only:
            out[p.symbol] = out.get(p.symbol, 0.0) + p.signed_notional
    return out


def check(w: Work) -> None:
    # positions below the dust floor generate no alerts or actions: measure them, never blame them
    if all(w.is_dust(p) for p in w.snapshot.positions):
        return
    _check_leverage(w)
    for symbol, value in symbol_pcts(w.snapshot).items():
        _check_symbol(w, symbol, value)
    if w.correlations:
        for signs in clusters(w.snapshot.symbols(), w.correlations, w.limits.cluster_threshold):
            _check_cluster(w, signs)
    for sector, cap in w.limits.sector_caps.items():
        _check_sector(w, sector, cap)
    if w.betas is not None:
        _check_net_beta(w, w.betas)
