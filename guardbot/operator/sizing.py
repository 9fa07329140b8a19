"""Sizing a trade on a snapshot, the same way for `guardbot size` and Telegram's /size and /open."""

from __future__ import annotations

from typing import TYPE_CHECKING

from guardbot.domain import AccountSnapshot, base_asset
from guardbot.errors import UserError

if TYPE_CHECKING:
    from guardbot.config import Settings
    from guardbot.risk.sizing import SizingLimits


def resolve_symbol(snapshot: AccountSnapshot, text: str) -> str:
    """Accept the full ccxt symbol or just its base asset ("SOL" -> "SOL/USDT:USDT")."""
    known = list(dict.fromkeys([*snapshot.tiers, *snapshot.mark_prices, *snapshot.symbols()]))
    if text in known:
        return text
    matches = [s for s in known if base_asset(s).upper() == text.upper()]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise UserError(f"symbol {text!r} is ambiguous: {', '.join(matches)}")
    raise UserError(f"unknown symbol {text!r}: the snapshot knows {', '.join(known) or 'no symbols'}")


def sizing_limits(settings: Settings) -> SizingLimits:
    from guardbot.risk.sizing import SizingLimits

    r = settings.risk
    return SizingLimits(
        max_leverage=r.max_leverage,
        default_leverage=r.default_leverage,
        max_position_pct=r.max_position_pct,
        taker_fee=r.taker_fee,
        slippage_pct=r.slippage_pct,
        stop_buffer_pct=settings.guard.stop_buffer_pct,
        max_cluster_pct=r.max_cluster_pct,
        sectors=r.sectors,
        sector_caps=r.sector_caps,
    )
