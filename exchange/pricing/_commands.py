"""Pricing commands and the 1 s mark job, wired into the ledger (docs/pricing.md).

    index_price   {"asset", "sources": {name: price}}       new index of an asset
                  {"asset", "price"}                         operator-set index (no source rules)
    mark_price    {"market", "price"}                        operator-pinned mark of a perp
    index_params  {"asset", "band"?, "min_sources"?, "max_jump"?}
    price_bands   {"market", "min_multiplier"?, ..., "window_s"?, "impact_quantity"?}
    mark_update   job, every 1 000 ms: one premium sample per perp, new EWMA and mark

None of them posts: prices are facts, not money. Replay rebuilds the state from the
commands and from the job's emitted data (`{"marks": {market: [mark, ewma]}}`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from exchange import fields
from exchange.errors import InvalidCommandError
from exchange.matching import NO_BAND, find_matching_state
from exchange.values import band_fraction as fraction

from ._index import IndexRejected, compute_index
from ._mark import clamp_mark, ewma_step, impact_prices, premium_sample
from ._params import DEFAULT_BANDS, DEFAULT_INDEX, MAX_SOURCES, BandParams, IndexParams
from ._state import PricingState

if TYPE_CHECKING:
    from exchange.engine import Context
    from exchange.model import Event
    from exchange.registry import Registry
    from exchange.state import LedgerState

__all__ = ["MARK_PERIOD_MS", "MODULE", "pricing_state", "register"]

MODULE = "pricing"
MARK_PERIOD_MS = 1_000
MAX_PRICE = 10**30  # a price above this is a typo, not a market


def pricing_state(state: LedgerState) -> PricingState:
    ps: PricingState = state.ext[MODULE]
    return ps


def install_band(state: LedgerState) -> None:
    """Put this state's band into matching (its books captured NO_BAND when created)."""
    ms = find_matching_state(state)
    ps = pricing_state(state)
    if ms is None or ms.band is ps.band:
        return
    if ms.band is not NO_BAND:
        raise RuntimeError("matching already has another price band installed")
    ms.band = ps.band
    for book in ms.books.values():
        book.band = ps.band


# ---------------------------------------------------------------------------- parsers


def _parse_index(raw: dict[str, Any]) -> tuple[str, dict[str, int] | int]:
    """(asset, sources) or, for the operator form with a single "price", (asset, price)."""
    asset = fields.symbol(raw, "asset")
    if "sources" not in raw and "price" in raw:
        return asset, fields.amount(raw, "price")
    sources = raw.get("sources")
    if not isinstance(sources, dict):
        raise InvalidCommandError("field 'sources' must be an object of name: price")
    if len(sources) > MAX_SOURCES:
        raise InvalidCommandError(f"field 'sources' has more than {MAX_SOURCES} entries")
    prices: dict[str, int] = {}
    for name in sources:
        if not 0 < len(name) <= fields.MAX_ID_LENGTH:
            raise InvalidCommandError("source names must be 1-128 characters")
        prices[name] = fields.amount(sources, name)
    return asset, prices


def _parse_index_params(raw: dict[str, Any]) -> tuple[str, IndexParams]:
    asset = fields.symbol(raw, "asset")
    d = DEFAULT_INDEX
    min_sources = (
        fields.integer(raw, "min_sources", 1, MAX_SOURCES)
        if "min_sources" in raw
        else d.min_sources
    )
    return asset, IndexParams(
        fraction(raw, "band", d.band), min_sources, fraction(raw, "max_jump", d.max_jump)
    )


_BAND_FIELDS = (
    "min_multiplier",
    "max_multiplier",
    "min_impact",
    "max_impact",
    "mark_min",
    "mark_max",
    "premium_tolerance",
)


def _parse_bands(raw: dict[str, Any]) -> tuple[str, BandParams]:
    market = fields.string(raw, "market")
    d = DEFAULT_BANDS
    values: dict[str, Any] = {f: fraction(raw, f, getattr(d, f)) for f in _BAND_FIELDS}
    if "window_s" in raw:
        values["window_s"] = fields.integer(raw, "window_s", 1, 86_400)
    if "impact_quantity" in raw:
        values["impact_quantity"] = fields.amount(raw, "impact_quantity")
    return market, replace(d, **values)


# ---------------------------------------------------------------------------- handlers


def _parse_mark(raw: dict[str, Any]) -> tuple[str, int]:
    return fields.string(raw, "market"), fields.amount(raw, "price")


def _index_price(ctx: Context, p: tuple[str, dict[str, int] | int]) -> None:
    asset, sources = p
    ctx.require_asset(asset)
    ps = pricing_state(ctx.state)
    previous = ps.index.get(asset)
    if isinstance(sources, int):  # operator-set: only the price's own sanity applies
        if not 0 < sources <= MAX_PRICE:
            ctx.reject("price_must_be_positive", f"price {sources}")
        install_band(ctx.state)
        _set_index(ps, asset, sources, ctx.time)
        ctx.on_rollback(lambda: _restore_index(ps, asset, previous))
        ctx.emit(index=sources, manual=True)
        return
    try:
        result = compute_index(sources, previous, ps.index_params_of(asset))
    except IndexRejected as rej:
        ctx.reject(rej.reason, rej.detail)
    install_band(ctx.state)
    _set_index(ps, asset, result.price, ctx.time)
    ctx.on_rollback(lambda: _restore_index(ps, asset, previous))
    data: dict[str, Any] = {"index": result.price}
    if result.filtered:
        data["filtered"] = result.filtered
    if result.fallback:
        data["fallback"] = "previous_index_band"
    ctx.emit(**data)


def _set_index(ps: PricingState, asset: str, price: int, at: int | None) -> None:
    ps.index[asset] = price
    if at is not None:
        ps.index_time[asset] = at


def _restore_index(ps: PricingState, asset: str, previous: int | None) -> None:
    if previous is None:
        ps.index.pop(asset, None)
    else:
        ps.index[asset] = previous


def _mark_price(ctx: Context, p: tuple[str, int]) -> None:
    """Pin a perp's mark (operator override, test fixtures): the mark job leaves it alone."""
    market, price = p
    ms = find_matching_state(ctx.state)
    if ms is None or market not in ms.books or not ms.books[market].market.is_perp:
        ctx.reject("unknown_perp_market", market)
    if not 0 < price <= MAX_PRICE:
        ctx.reject("price_must_be_positive", f"price {price}")
    install_band(ctx.state)
    _pin(pricing_state(ctx.state), market, price)


def _pin(ps: PricingState, market: str, price: int) -> None:
    ps.mark[market] = price
    ps.pinned.add(market)
    ps.marks_version += 1


def _index_params(ctx: Context, p: tuple[str, IndexParams]) -> None:
    asset, params = p
    ctx.require_asset(asset)
    problems = params.problems()
    if problems:
        ctx.reject("index_params_must_be_valid", "; ".join(problems))
    pricing_state(ctx.state).index_params[asset] = params


def _price_bands(ctx: Context, p: tuple[str, BandParams]) -> None:
    market, params = p
    ms = find_matching_state(ctx.state)
    if ms is None or market not in ms.books:
        ctx.reject("unknown_market", market)
    problems = params.problems()
    if problems:
        ctx.reject("price_bands_must_be_valid", "; ".join(problems))
    install_band(ctx.state)
    pricing_state(ctx.state).band_params[market] = params


def update_marks(state: LedgerState) -> dict[str, list[int]]:
    """One mark step for every perp whose base has an index; returns what changed."""
    ps = pricing_state(state)
    ms = find_matching_state(state)
    if not ps.index or ms is None:
        return {}
    install_band(state)
    changed: dict[str, list[int]] = {}
    index_of = ps.index
    for symbol in sorted(ms.books):
        book = ms.books[symbol]
        market = book.market
        if not market.is_perp or symbol in ps.pinned:
            continue
        index = index_of.get(market.base)
        if index is None:
            continue
        params = ps.bands_of(symbol)
        bid, ask = impact_prices(book, params.impact_quantity)
        old = ps.ewma.get(symbol, 0)
        ewma = ewma_step(old, premium_sample(index, bid, ask, params), params.window_s)
        mark = clamp_mark(index, ewma, params)
        if ewma != old or mark != ps.mark.get(symbol):
            ps.ewma[symbol] = ewma
            ps.mark[symbol] = mark
            changed[symbol] = [mark, ewma]
    if changed:
        ps.marks_version += 1
    return changed


def _mark_job(ctx: Context, instant: int) -> None:
    changed = update_marks(ctx.state)
    if changed:
        ctx.emit(marks=changed)


# ---------------------------------------------------------------------------- replay


def _replay_index(state: LedgerState, event: Event) -> None:
    asset, _ = _parse_index(json.loads(event.command))
    install_band(state)
    assert event.data is not None
    _set_index(pricing_state(state), asset, event.data["index"], event.ts)


def _replay_mark_price(state: LedgerState, event: Event) -> None:
    market, price = _parse_mark(json.loads(event.command))
    install_band(state)
    _pin(pricing_state(state), market, price)


def _replay_index_params(state: LedgerState, event: Event) -> None:
    asset, params = _parse_index_params(json.loads(event.command))
    pricing_state(state).index_params[asset] = params


def _replay_bands(state: LedgerState, event: Event) -> None:
    market, params = _parse_bands(json.loads(event.command))
    install_band(state)
    pricing_state(state).band_params[market] = params


def _replay_marks(state: LedgerState, event: Event) -> None:
    ps = pricing_state(state)
    install_band(state)
    assert event.data is not None
    for symbol, (mark, ewma) in event.data["marks"].items():
        ps.mark[symbol] = mark
        ps.ewma[symbol] = ewma
    ps.marks_version += 1


def _digest(state: LedgerState) -> bytes:
    ps = pricing_state(state)
    h = hashlib.sha256()
    for asset in sorted(ps.index):
        h.update(f"index|{asset}|{ps.index[asset]}|{ps.index_time.get(asset)}\n".encode())
    for symbol in sorted(ps.mark):
        pin = "pinned" if symbol in ps.pinned else "auto"
        h.update(f"mark|{symbol}|{ps.mark[symbol]}|{ps.ewma.get(symbol, 0)}|{pin}\n".encode())
    for asset in sorted(ps.index_params):
        h.update(f"iparams|{asset}|{ps.index_params[asset]}\n".encode())
    for symbol in sorted(ps.band_params):
        h.update(f"bands|{symbol}|{ps.band_params[symbol]}\n".encode())
    return h.digest()


def register(registry: Registry) -> None:
    """Plug the pricing commands and the mark job into the ledger."""
    registry.state(MODULE, PricingState)
    registry.digest(MODULE, _digest)
    registry.command("index_price", _parse_index, _index_price)
    registry.command("index_params", _parse_index_params, _index_params)
    registry.command("price_bands", _parse_bands, _price_bands)
    registry.command("mark_price", _parse_mark, _mark_price)
    registry.job("mark_update", MARK_PERIOD_MS, _mark_job)
    registry.on_replay("index_price", _replay_index)
    registry.on_replay("index_params", _replay_index_params)
    registry.on_replay("price_bands", _replay_bands)
    registry.on_replay("mark_price", _replay_mark_price)
    registry.on_replay("mark_update", _replay_marks)
