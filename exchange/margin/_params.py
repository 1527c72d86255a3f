"""Margin parameters (the margin module's state), their commands, and price lookups.

Prices come from `exchange.pricing` (commands `index_price`, `mark_price`). Price scale,
the same as the matching engine's: an int in smallest units of the valuation asset (USDC,
6 decimals) per ONE WHOLE unit of the priced asset or base, so the value of `amount`
smallest units of an asset with `d` decimals is `amount * price // 10^d`.

Fractions (weights, IMF/MMF bases and factors, funding rates) are ints at FRACTION = 10^9
scale, given in commands as decimal strings ("0.02", "0.00002494").

Commands:
    collateral_params  {"asset", "weight"?, "penalty"?, "imf_base"?, "imf_factor"?,
                        "mmf_base"?, "mmf_factor"?}           haircut and borrow margin
    perp_params        {"market", "imf_base"?, "imf_factor"?, "mmf_base"?, "mmf_factor"?,
                        "impact_notional"?, "funding_interest"?, "funding_cap"?}
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from dataclasses import fields as dc_fields
from typing import TYPE_CHECKING, Any

from exchange import fields
from exchange.pricing import asset_price
from exchange.pricing import mark_price as pricing_mark
from exchange.values import FRACTION, fraction

if TYPE_CHECKING:
    from exchange.engine import Context
    from exchange.model import Event
    from exchange.registry import Registry
    from exchange.state import LedgerState

__all__ = [
    "QUOTE",
    "CollateralParams",
    "MarginState",
    "PerpParams",
    "fold_collateral_params",
    "index_price",
    "margin_state",
    "mark_price",
    "register_params",
]

QUOTE = "USDC"
"""The valuation and settlement asset: its index price is 1.0 (10^decimals) unless set."""


@dataclass(frozen=True, slots=True)
class CollateralParams:
    """Per asset. Collateral weight (haircut), Backpack's inverse-sqrt decay:
        weight(v) = min(weight, 1.1 / (1 + penalty * sqrt(v)))   v = value in USD
    A borrow of the asset is exposure with IMF = max(imf_base, imf_factor * sqrt(v)) and
    MMF likewise. An asset without params is no collateral (weight 0), except USDC (1.0)."""

    weight: int = 0
    penalty: int = 0
    imf_base: int = 100_000_000  # 0.1
    imf_factor: int = 0
    mmf_base: int = 50_000_000  # 0.05
    mmf_factor: int = 0


@dataclass(frozen=True, slots=True)
class PerpParams:
    """Per perp market: IMF/MMF curves (BTC-PERP style defaults), funding parameters.
    `impact_notional` (USDC smallest units) sizes the impact bid/ask; `funding_interest` is
    the interest component per funding interval (hour); `funding_cap` bounds the rate."""

    imf_base: int = 20_000_000  # 0.02
    imf_factor: int = 24_940  # 0.00002494
    mmf_base: int = 10_000_000  # 0.01
    mmf_factor: int = 12_470
    impact_notional: int = 10_000_000_000  # 10,000 USDC
    funding_interest: int = 12_500  # 0.0000125 per hour (0.01 % per 8 hours)
    funding_cap: int = 10_000_000  # 1 % per hour


_QUOTE_COLLATERAL = CollateralParams(weight=FRACTION, imf_base=FRACTION // 10)


@dataclass(slots=True)
class MarginState:
    """`state.ext["margin"]`: margin parameters. Rebuilt by replaying their commands."""

    collateral: dict[str, CollateralParams] = field(default_factory=dict)
    perps: dict[str, PerpParams] = field(default_factory=dict)

    def collateral_of(self, asset: str) -> CollateralParams:
        got = self.collateral.get(asset)
        if got is not None:
            return got
        return _QUOTE_COLLATERAL if asset == QUOTE else CollateralParams()

    def perp_of(self, market: str) -> PerpParams:
        return self.perps.get(market) or PerpParams()

    # the initial-margin check lending asks for (`_risk.initial_margin_problem`, installed
    # by `register_params`): risk is computed from these parameters, so it cannot live here
    guard: Callable[[Context, str], str | None] | None = field(
        default=None, repr=False, compare=False
    )

    def initial_margin_problem(self, ctx: Context, account: str) -> str | None:
        """`exchange.lending.MarginGuard`: None if `account` still meets initial margin."""
        return None if self.guard is None else self.guard(ctx, account)


def margin_state(state: LedgerState) -> MarginState:
    ms: MarginState = state.ext["margin"]
    return ms


def index_price(state: LedgerState, asset: str) -> int | None:
    """The asset's index: prices are owned by exchange.pricing (which took over the
    `index_price`/`mark_price` commands with the same fields)."""
    return asset_price(state, asset)


def mark_price(state: LedgerState, market: str, base: str) -> int | None:
    """The perp market's mark, or the base asset's index until a mark is set."""
    price = pricing_mark(state, market)
    return price if price is not None else index_price(state, base)


# -- commands ---------------------------------------------------------------------------------


def _fractions(raw: dict[str, Any], cls: type[Any], skip: tuple[str, ...] = ()) -> dict[str, int]:
    out = {}
    for f in dc_fields(cls):
        if f.name in raw and f.name not in skip:
            out[f.name] = fraction(raw, f.name)
    return out


def _parse_collateral(raw: dict[str, Any]) -> tuple[str, dict[str, int]]:
    return fields.symbol(raw, "asset"), _fractions(raw, CollateralParams)


def _parse_perp(raw: dict[str, Any]) -> tuple[str, dict[str, int]]:
    given = _fractions(raw, PerpParams, skip=("impact_notional",))
    if "impact_notional" in raw:
        given["impact_notional"] = fields.amount(raw, "impact_notional")
    return fields.string(raw, "market"), given


def _set(ctx: Context, table: dict[str, Any], key: str, value: Any) -> None:
    old = table.get(key)
    table[key] = value

    def undo() -> None:
        if old is None:
            table.pop(key, None)
        else:
            table[key] = old

    ctx.on_rollback(undo)


def _collateral(ctx: Context, p: tuple[str, dict[str, int]]) -> None:
    asset, given = p
    ctx.require_asset(asset)
    ms = margin_state(ctx.state)
    params = replace(ms.collateral_of(asset), **given)
    if params.weight > FRACTION:
        ctx.reject("weight_must_not_exceed_one", f"weight {params.weight}")
    _set(ctx, ms.collateral, asset, params)


def _perp(ctx: Context, p: tuple[str, dict[str, int]]) -> None:
    market, given = p
    ms = margin_state(ctx.state)
    params = replace(ms.perp_of(market), **given)
    if params.mmf_base > params.imf_base or params.mmf_factor > params.imf_factor:
        ctx.reject("mmf_must_not_exceed_imf", market)
    if params.impact_notional <= 0:
        ctx.reject("impact_notional_must_be_positive", market)
    _set(ctx, ms.perps, market, params)


# -- replay -----------------------------------------------------------------------------------


def _apply_collateral(ms: MarginState, command: str) -> None:
    asset, given = _parse_collateral(json.loads(command))
    ms.collateral[asset] = replace(ms.collateral_of(asset), **given)


def _replay_collateral(state: LedgerState, event: Event) -> None:
    _apply_collateral(margin_state(state), event.command)


def fold_collateral_params(commands: Iterable[str]) -> MarginState:
    """The collateral parameters set by accepted `collateral_params` commands (their JSON
    text, in journal order), exactly as replay rebuilds them: what a reader of the stored
    journal (the proof-of-reserves export) uses at a past sequence."""
    ms = MarginState()
    for command in commands:
        _apply_collateral(ms, command)
    return ms


def _replay_perp(state: LedgerState, event: Event) -> None:
    market, given = _parse_perp(json.loads(event.command))
    ms = margin_state(state)
    ms.perps[market] = replace(ms.perp_of(market), **given)


def _digest(state: LedgerState) -> bytes:
    ms = margin_state(state)
    h = hashlib.sha256()
    for name, table in (("c", ms.collateral), ("p", ms.perps)):
        for key in sorted(table):
            h.update(f"{name}|{key}|{table[key]}\n".encode())
    return h.digest()


def register_params(registry: Registry, guard: Callable[[Context, str], str | None]) -> None:
    """Plug the parameter commands in; `guard` is the initial-margin check lending calls."""
    registry.state("margin", lambda: MarginState(guard=guard))
    registry.digest("margin", _digest)
    for name, parse, handle, hook in (
        # index_price / mark_price: registered by exchange.pricing (same fields)
        ("collateral_params", _parse_collateral, _collateral, _replay_collateral),
        ("perp_params", _parse_perp, _perp, _replay_perp),
    ):
        registry.command(name, parse, handle)
        registry.on_replay(name, hook)
