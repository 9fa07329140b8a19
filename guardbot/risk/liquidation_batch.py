"""Liquidation prices of every pool of a book, for S sets of marks at once, in a few array operations.

The method is `liquidation.solve_liquidation_price`'s (read its docstring for the why): in a pool,
equity(P) - MM(P) is linear in the pool's mark P between the tier boundaries (floor / size) of its
moving legs, so the price axis is cut at every boundary, each piece is solved exactly with the tiers
of that piece (the tier is re-checked at the liquidation price), and a sign change across a cut (a
table whose maintenance amounts jump) makes the cut itself a root. Of the roots on the requested
side, the one nearest to the mark wins; a pool already at or past liquidation answers its mark.

Pools: one per cross symbol (every leg of the symbol, both sides of a hedge, moves with its one
mark; the other cross positions stay at their marks) and one per isolated position (its own margin
and nothing else). Legs of size 0 move nothing and are left out, as in the scalar solver.

Here every piece of every pool is one column. Cuts, pieces and the tiers inside them depend only on
sizes and tables, so they are built once per book (`Pieces`); a new set of marks (a shocked book)
only changes each pool's base (fixed equity - fixed maintenance) and mark. The legs of a piece are
added to the base one by one as the scalar solver does; the base itself comes from the account's
totals minus the pool's own symbol (O(n), not O(pools x n)), so a price can differ from the scalar
solver's in its last bits (the property tests bound it), never in method.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from guardbot.risk.book import Book, Marked
from guardbot.risk.liquidation import Direction
from guardbot.risk.tier_arrays import BoolArray, FloatArray, IntArray


@dataclass(frozen=True, slots=True)
class Pools:
    of_position: IntArray  # (n,) pool of each position; -1 when nothing moves (no price)
    legs: IntArray  # (G, L) moving legs of each pool in snapshot order, padded with the first
    live: BoolArray  # (G, L) False on padding
    isolated: BoolArray  # (G,)


@dataclass(frozen=True, slots=True)
class Pieces:
    pool: IntArray  # (K,) pieces ordered by pool, then by price
    lo: FloatArray
    hi: FloatArray
    c0: FloatArray  # (K, L) each leg's -s q entry - alpha in the piece's tier (0 on padding)
    c1: FloatArray  # (K,) sum over legs of s q - beta q


def pools_of(book: Book) -> Pools:
    n = book.size.size
    moving = book.size > 0
    # cross pools: symbols with a moving cross leg; then one pool per moving isolated position
    cross_legs = np.flatnonzero(book.cross & moving)
    symbols = np.unique(book.symbol[cross_legs])
    n_cross = symbols.size
    pool_of_symbol = np.full(len(book.symbols), -1, dtype=np.intp)
    pool_of_symbol[symbols] = np.arange(n_cross)
    iso_legs = np.flatnonzero(~book.cross & moving)
    of_position = np.full(n, -1, dtype=np.intp)
    # every cross position shares its symbol's price (a leg of size 0 too: it just does not move it)
    of_position[book.cross] = pool_of_symbol[book.symbol[book.cross]]
    of_position[iso_legs] = n_cross + np.arange(iso_legs.size)

    # legs of each pool in snapshot order: rank of each moving leg within its pool
    leg = np.concatenate((cross_legs, iso_legs))
    owner = of_position[leg]
    order = np.lexsort((leg, owner))
    leg, owner = leg[order], owner[order]
    n_pools = n_cross + iso_legs.size
    count = np.bincount(owner, minlength=n_pools)
    rank = np.arange(leg.size) - np.concatenate(([0], np.cumsum(count)[:-1]))[owner]
    width = int(count.max()) if n_pools else 1
    legs = np.zeros((n_pools, width), dtype=np.intp)
    live = np.zeros((n_pools, width), dtype=np.bool_)
    legs[owner, rank], live[owner, rank] = leg, True
    legs = np.where(live, legs, legs[:, :1])  # padding repeats the first leg (masked out anyway)
    return Pools(of_position, legs, live, np.arange(n_pools) >= n_cross)


def _terms(book: Book, legs: IntArray, live: BoolArray, price: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Per-leg constant terms (..., X, L) and summed slopes (..., X) of equity - MM at `price`
    (..., X), each leg in the tier its notional has at that price."""
    s, q, e = book.sign[legs], book.size[legs], book.entry[legs]
    tier = book.tiers.index(q * price[..., None], rows=legs)
    alpha, beta = book.tiers.alpha[legs, tier], book.tiers.beta[legs, tier]
    t0 = np.where(live, -s * q * e - alpha, 0.0)
    t1 = np.where(live, s * q - beta * q, 0.0)
    c1 = np.zeros(t1.shape[:-1])
    for k in range(t1.shape[-1]):  # leg by leg, like the scalar solver
        c1 = c1 + t1[..., k]
    return t0, c1


def pieces_of(book: Book, pools: Pools) -> Pieces:
    legs, live = pools.legs, pools.live
    n_pools = legs.shape[0]
    floors = book.tiers.floor[legs]  # (G, L, T)
    real = np.arange(floors.shape[-1]) <= book.tiers.last[legs][..., None]
    take = live[..., None] & real & (floors > 0)
    owner = np.broadcast_to(np.arange(n_pools)[:, None, None], floors.shape)[take]
    cut = (floors / book.size[legs][..., None])[take]
    order = np.lexsort((cut, owner))
    owner, cut = owner[order], cut[order]
    keep = np.ones(cut.size, dtype=np.bool_)
    keep[1:] = (owner[1:] != owner[:-1]) | (cut[1:] != cut[:-1])  # a set: one cut per price
    owner, cut = owner[keep], cut[keep]

    n_cuts = np.bincount(owner, minlength=n_pools)
    first_piece = np.concatenate(([0], np.cumsum(n_cuts + 1)[:-1]))
    first_cut = np.concatenate(([0], np.cumsum(n_cuts)[:-1]))
    slot = first_piece[owner] + np.arange(cut.size) - first_cut[owner]
    total = int(n_cuts.sum()) + n_pools
    lo, hi = np.zeros(total), np.full(total, np.inf)
    hi[slot], lo[slot + 1] = cut, cut
    pool = np.repeat(np.arange(n_pools), n_cuts + 1)
    # a price inside each piece; the last piece is unbounded above
    with np.errstate(invalid="ignore"):
        probe = np.where(np.isfinite(hi), (lo + hi) / 2, np.where(lo > 0, lo * 2, 1.0))
    c0, c1 = _terms(book, legs[pool], live[pool], probe)
    return Pieces(pool, lo, hi, c0, c1)


def pool_bases(book: Book, pools: Pools, marked: Marked) -> FloatArray:
    """(S, G) fixed equity - fixed maintenance of every pool.

    A cross pool's fixed part is the cross wallet plus the PnL, minus the maintenance, of every
    cross position of the *other* symbols: the cross totals minus the pool's own symbol, O(n) for
    all pools at once. Its rounding differs from a left-to-right sum over the others by a few ulps
    of those totals, i.e. ~1e-16 of the account's size in the price of the pool (see the property
    tests). An isolated pool's is its own margin.
    """
    n_sets = marked.mark.shape[0]
    n_pools = pools.legs.shape[0]
    cross = book.cross
    owner = pools.of_position[cross]  # -1: a cross symbol that nothing moves is fixed for everyone
    mine = owner >= 0
    upnl, mm = marked.upnl[:, cross], marked.maintenance[:, cross]
    own_upnl, own_mm = np.zeros((n_sets, n_pools)), np.zeros((n_sets, n_pools))
    for k in range(n_sets):
        own_upnl[k] = np.bincount(owner[mine], weights=upnl[k, mine], minlength=n_pools)
        own_mm[k] = np.bincount(owner[mine], weights=mm[k, mine], minlength=n_pools)
    equity = book.cross_wallet + (upnl.sum(axis=1, keepdims=True) - own_upnl)
    base = equity - (mm.sum(axis=1, keepdims=True) - own_mm)
    iso = pools.isolated
    base[:, iso] = book.isolated_margin[pools.legs[iso, 0]]
    return np.asarray(base, dtype=np.float64)


def solve(
    book: Book, pools: Pools, pieces: Pieces, marked: Marked, direction: Direction = "nearest"
) -> FloatArray:
    """(S, n) liquidation price of every position at every set of marks; NaN where there is none."""
    n_sets, n = marked.mark.shape
    n_pools = pools.legs.shape[0]
    if n_pools == 0:
        return np.full((n_sets, n), np.nan)
    base = pool_bases(book, pools, marked)
    mark = marked.mark[:, pools.legs[:, 0]]  # (S, G): the first moving leg's mark

    t0, c1m = _terms(book, pools.legs, pools.live, mark)
    c0m = base
    for k in range(t0.shape[-1]):
        c0m = c0m + t0[..., k]
    now = c0m + c1m * mark <= 0  # already at or past liquidation: the mark is the price

    c0 = base[:, pieces.pool]
    for k in range(pieces.c0.shape[-1]):
        c0 = c0 + pieces.c0[:, k]
    c1 = pieces.c1
    with np.errstate(divide="ignore", invalid="ignore"):
        root = -c0 / c1
        # closed on both ends: a root exactly on a boundary belongs to both pieces
        ok = (c1 != 0) & (root > 0) & (root >= pieces.lo * (1 - 1e-12)) & (root <= pieces.hi * (1 + 1e-12))
    # a sign change across a cut with no root on either side: MM jumps there, the cut is the price
    j = np.flatnonzero(pieces.pool[1:] == pieces.pool[:-1])
    cut = pieces.hi[j]
    jump = (c0[:, j] + c1[j] * cut > 0) != (c0[:, j + 1] + c1[j + 1] * cut > 0)

    # candidates: piece roots then jump roots, grouped by pool in that order (the scalar tie-break)
    owner = np.concatenate((pieces.pool, pieces.pool[j]))
    perm = np.argsort(owner, kind="stable")
    owner = owner[perm]
    value = np.concatenate((root, np.broadcast_to(cut, (n_sets, cut.size))), axis=1)[:, perm]
    ok = np.concatenate((ok, jump), axis=1)[:, perm]
    at = mark[:, owner]
    if direction == "below":
        ok &= value <= at
    elif direction == "above":
        ok &= value >= at
    dist = np.where(ok, np.abs(value - at), np.inf)
    starts = np.searchsorted(owner, np.arange(n_pools))
    nearest = np.minimum.reduceat(dist, starts, axis=1)
    position = np.where(ok & (dist == nearest[:, owner]), np.arange(owner.size), owner.size)
    first = np.minimum.reduceat(position, starts, axis=1)
    found = first < owner.size
    chosen = np.take_along_axis(value, np.minimum(first, owner.size - 1), axis=1)
    price = np.where(now, mark, np.where(found, chosen, np.nan))
    out = price[:, np.maximum(pools.of_position, 0)]
    out[:, pools.of_position < 0] = np.nan
    return np.asarray(out, dtype=np.float64)
