"""Liquidation commands, the 1 s liquidation check, replay, and dirty-account tracking.

    backstop_provider   {"account", "capacity"}     opt in (capacity in USDC smallest units
                                                    of position notional; "0" opts out)
    insurance_fund      {"from", "asset", "amount"} a user account pays into @insurance
    liquidation_params  {"auto_close"?, "slice"?}   fractions, see LiquidationParams
    liquidation         job every 1 000 ms, after the mark update: finds the accounts at or
                        below maintenance (headroom index + accounts touched since the last
                        run) and runs the waterfall on each, in account order

The job's event data: `steps` (what happened to whom and why: the liquidation report) and
`actions` (matching changes replay re-applies: cancels, orders, position moves, provider
capacity). Balances are replayed from the postings as always.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from exchange import fields
from exchange.engine import FastPath
from exchange.matching import cancel_order, matching_state, place_order
from exchange.model import INSURANCE, is_system_account
from exchange.pricing import asset_price, pricing_state
from exchange.values import FRACTION, band_fraction

from ._headroom import SENSITIVITY, SidedDriver, room, sided_room
from ._single import headroom_at, single_position
from ._state import LiquidationParams, LiquidationState
from ._waterfall import Run, liquidate, move_position

if TYPE_CHECKING:
    from exchange.engine import Context
    from exchange.margin import AccountRisk
    from exchange.model import Event
    from exchange.registry import Registry
    from exchange.state import LedgerState

__all__ = [
    "JOB",
    "MODULE",
    "evaluate",
    "find_liquidatable",
    "liquidation_state",
    "register",
    "scan_liquidatable",
]

MODULE = "liquidation"
JOB = "liquidation"
PERIOD_MS = 1_000


def liquidation_state(state: LedgerState) -> LiquidationState:
    ls: LiquidationState = state.ext[MODULE]
    return ls


# ---------------------------------------------------------------------------- risk view


def drivers_of(
    state: LedgerState, account: str, mmf: dict[str, int] | None = None
) -> list[tuple[str, int, int, int, int]]:
    """(driver, price, quantity, decimals, MMF) of every price the account's value depends
    on; `mmf` maps margin's exposure names (a perp symbol, "borrow:ASSET") to their MMF."""
    mmf = mmf or {}
    from exchange.margin import mark_price, net_balance

    out = []
    for asset, info in state.assets.items():
        net = net_balance(state, account, asset)
        if net:
            price = asset_price(state, asset)
            if price is not None:
                m = mmf.get(f"borrow:{asset}", 0) if net < 0 else 0
                out.append((f"asset:{asset}", price, abs(net), info.decimals, m))
    ms = matching_state(state)
    for symbol, book in ms.books.items():
        market = book.market
        if not market.is_perp:
            continue
        pos = ms.positions.get((account, symbol))
        size = abs(pos.size) if pos is not None else 0
        for order in book.orders.values():
            if order.account == account:
                size += order.remaining
        if size:
            mark = mark_price(state, symbol, market.base)
            if mark is not None:
                m = mmf.get(symbol, FRACTION)
                out.append((f"perp:{symbol}", mark, size, market.base_decimals, m))
    return out


def current_prices(state: LedgerState) -> dict[str, int]:
    """Every driver's price now (assets with an index, perps with a mark or index)."""
    from exchange.margin import mark_price

    prices = {}
    for asset in state.assets:
        price = asset_price(state, asset)
        if price is not None:
            prices[f"asset:{asset}"] = price
    ms = matching_state(state)
    for symbol, book in ms.books.items():
        if book.market.is_perp:
            mark = mark_price(state, symbol, book.market.base)
            if mark is not None:
                prices[f"perp:{symbol}"] = mark
    return prices


def sided_drivers(
    state: LedgerState,
    account: str,
    risk: AccountRisk,
    held: list[tuple[str, int]] | None = None,
) -> list[SidedDriver]:
    """The account's drivers with how fast each side of a move can shrink its headroom
    (`sided_room`), from its exact risk (`account_risk`, priced: nothing unpriced):

    - collateral X (net > 0, weight > 0): a fall loses at most net (weights <= 1); a rise
      loses nothing unless the weight falls with size (penalty: both sides);
    - debt in X: a rise costs the liability and maintenance, net * (1 + 2 MMF); a fall
      lowers both, so it cannot hurt;
    - perp, size s, margined quantity q (position and risk-increasing orders), MMF m:
      a falling mark costs a long s and lowers the maintenance, a short gains; a rising
      mark costs a short |s| + 2 m q, a long 2 m q - s when that is positive (the
      maintenance of a moved notional grows at most 1.5 x 1.33 MMF fast, see above).
    Assets with weight 0 or without a price count nothing at any price: no driver.
    `held`: the account's positive nets (`holdings`), when the caller has them."""
    from exchange.margin import margin_state

    out: list[SidedDriver] = []
    params = margin_state(state)
    for asset, net in holdings(state, account) if held is None else held:
        collateral = params.collateral_of(asset)
        price = asset_price(state, asset) if collateral.weight else None
        if price is not None:
            loss = net * FRACTION
            out.append((f"asset:{asset}", price, state.assets[asset].decimals, loss,
                        loss if collateral.penalty else None))  # fmt: skip
    books = matching_state(state).books
    for item in risk.items:
        if item.name.startswith("borrow:"):
            asset = item.name[len("borrow:") :]
            rise = item.size * (FRACTION + SENSITIVITY * item.mmf)
            out.append((f"asset:{asset}", item.mark, state.assets[asset].decimals, None, rise))
            continue
        decimals = books[item.name].market.base_decimals
        qty = risk.market_qty[item.name]
        out.append(perp_driver(item.name, item.mark, decimals, item.size, qty, item.mmf))
    return out


def perp_driver(
    symbol: str, mark: int, decimals: int, size: int, qty: int, mmf: int
) -> SidedDriver:
    """A perp's sided driver (see `sided_drivers`)."""
    grow = SENSITIVITY * mmf * qty
    rise = grow - size * FRACTION
    fall = size * FRACTION if size > 0 else None
    return (f"perp:{symbol}", mark, decimals, fall, rise if rise > 0 else None)


def holdings(state: LedgerState, account: str) -> list[tuple[str, int]]:
    """(asset, net) of the account's positive net balances (margin's buckets)."""
    from exchange.margin import net_balance

    out = []
    for asset in state.assets:
        net = net_balance(state, account, asset)
        if net > 0:
            out.append((asset, net))
    return out


def evaluate(state: LedgerState, account: str) -> bool:
    """Exact check; re-indexes the account. True when it is at or below maintenance."""
    from exchange.margin import account_risk

    ls = liquidation_state(state)
    risk = account_risk(state, account)
    if not risk.exposure or risk.unpriced:
        ls.singles.pop(account, None)
        ls.index.set(account, room(0, drivers_of(state, account)) if risk.unpriced else [])
        return False
    headroom = risk.equity - risk.maintenance
    held = holdings(state, account)
    drivers = sided_drivers(state, account, risk, held)
    single = single_position(state, risk, held, drivers)
    if single is None:
        ls.singles.pop(account, None)
    else:
        ls.singles[account] = single
    ls.index.set(account, sided_room(headroom, drivers))
    return headroom <= 0


def recheck(state: LedgerState, account: str, prices: dict[str, int]) -> bool | None:
    """`evaluate` of an untouched single-position account from its kept numbers (see
    `_single`); None when there are none or they no longer apply."""
    ls = liquidation_state(state)
    single = ls.singles.get(account)
    if single is None:
        return None
    pos = matching_state(state).positions.get((account, single.symbol))
    if pos is None or pos.size != single.size or pos.basis != single.basis:
        return None  # (touched accounts are never re-checked so: this is a second guard)
    got = headroom_at(state, single, prices)
    if got is None:
        return None
    headroom, mark, mmf = got
    driver = perp_driver(single.symbol, mark, single.decimals, single.size, single.qty, mmf)
    ls.index.set(account, sided_room(headroom, [*single.drivers, driver]))
    return headroom <= 0


def scan_liquidatable(state: LedgerState) -> list[str]:
    """The reference: every user account checked exactly (what the index must agree with)."""
    from exchange.margin import account_risk

    out = []
    for account in sorted(state.accounts):
        if is_system_account(account):
            continue
        risk = account_risk(state, account)
        if risk.exposure and not risk.unpriced and risk.equity <= risk.maintenance:
            out.append(account)
    return out


def _build(state: LedgerState) -> None:
    ls = liquidation_state(state)
    ls.owners = {}
    for book in matching_state(state).books.values():
        for order in book.orders.values():
            ls.owners[order.order_id] = order.account
    ls.dirty = {a for a in state.accounts if not is_system_account(a)}
    ls.singles = {}
    ls.built = True


def find_liquidatable(state: LedgerState) -> list[str]:
    """Accounts at or below maintenance now: those whose headroom interval the current
    prices left, plus those touched since the last check, each checked exactly (an
    untouched single-position account from its kept numbers, `recheck`)."""
    ls = liquidation_state(state)
    if not ls.built:
        _build(state)
    prices = current_prices(state)
    crossed = ls.index.crossed(prices)
    dirty = ls.dirty
    if dirty:
        ls.dirty = set()
    # the dirty set notes every account a command posted for; system accounts (@fees, a
    # perp's clearing account, @insurance) hold no margin and are never liquidated
    found = [a for a in dirty if not is_system_account(a) and evaluate(state, a)]
    for account in crossed:
        if account in dirty:
            continue
        verdict = recheck(state, account, prices)
        if verdict is None:
            verdict = evaluate(state, account)
        if verdict:
            found.append(account)
    return sorted(found)


# ---------------------------------------------------------------------------- the job


def _job(ctx: Context, instant: int) -> None:
    state = ctx.state
    if (
        "margin" not in state.ext
        or not pricing_state(state).mark
        and not pricing_state(state).index
    ):
        return
    ls = liquidation_state(state)
    found = find_liquidatable(state)
    if not found:
        return
    run = Run(ctx, ls)
    for account in found:
        liquidate(run, account)
        run.touched.add(account)
    from exchange.lending import sweep_credited

    # what the run left idle (sale proceeds, USDC redeemed for a buy and not spent, an
    # insurance cover, balances a provider took over, makers' fills) is lent at once
    sweep_credited(ctx)
    ls.dirty |= {a for a in run.touched if not is_system_account(a)}
    if run.steps or run.actions:
        ctx.emit(steps=run.steps, actions=run.actions)


def _replay_job(state: LedgerState, event: Event) -> None:
    ms = matching_state(state)
    ls = liquidation_state(state)
    assert event.data is not None
    for action in event.data.get("actions", ()):
        kind = action[0]
        if kind == "cancel":
            book = ms.books[action[1]]
            cancel_order(None, ms, book, book.orders[action[2]])
        elif kind == "order":
            data = place_order(None, ms, action[1], action[2])
            ms.next_id = action[2] + 1
            if data != action[3]:
                raise ValueError(f"journal event {event.seq}: liquidation order replays as {data}")
        elif kind == "move":
            move_position(None, ms, action[1], action[2], action[3], action[4], action[5])
        elif kind == "capacity":
            ls.providers[action[1]] = action[2]
    ls.built = False  # derived caches are rebuilt on the next live run


# ---------------------------------------------------------------------------- commands


def _parse_provider(raw: dict[str, Any]) -> tuple[str, int]:
    return fields.string(raw, "account"), fields.amount(raw, "capacity")


def _provider(ctx: Context, p: tuple[str, int]) -> None:
    account, capacity = p
    ctx.require_user_account(account)
    if capacity < 0:
        ctx.reject("capacity_must_not_be_negative", str(capacity))
    providers = liquidation_state(ctx.state).providers
    old = providers.get(account)
    if capacity:
        providers[account] = capacity
    else:
        providers.pop(account, None)

    def undo() -> None:
        if old is None:
            providers.pop(account, None)
        else:
            providers[account] = old

    ctx.on_rollback(undo)


def _replay_provider(state: LedgerState, event: Event) -> None:
    account, capacity = _parse_provider(json.loads(event.command))
    providers = liquidation_state(state).providers
    if capacity:
        providers[account] = capacity
    else:
        providers.pop(account, None)


def _parse_insurance(raw: dict[str, Any]) -> tuple[str, str, int]:
    return fields.string(raw, "from"), fields.symbol(raw, "asset"), fields.amount(raw)


def _insurance(ctx: Context, p: tuple[str, str, int]) -> None:
    src, asset, amount = p
    ctx.require_positive(amount)
    ctx.require_asset(asset)
    ctx.require_user_account(src)
    from exchange.lending import ensure_available

    ensure_available(ctx, src, asset, amount)
    ctx.require_available(src, asset, amount)
    ctx.post((src, asset, "available", -amount), (INSURANCE, asset, "available", amount))


def _parse_params(raw: dict[str, Any]) -> LiquidationParams:
    d = LiquidationParams()
    return replace(
        d,
        auto_close=band_fraction(raw, "auto_close", d.auto_close),
        slice=band_fraction(raw, "slice", d.slice),
    )


def _params(ctx: Context, p: LiquidationParams) -> None:
    if not 0 < p.slice <= 10**9 or not 0 <= p.auto_close <= 10**9:
        ctx.reject("liquidation_params_must_be_valid", "need 0 < slice <= 1, 0 <= auto_close <= 1")
    ls = liquidation_state(ctx.state)
    old = ls.params
    ls.params = p
    ctx.on_rollback(lambda: setattr(ls, "params", old))


def _replay_params(state: LedgerState, event: Event) -> None:
    liquidation_state(state).params = _parse_params(json.loads(event.command))


def _digest(state: LedgerState) -> bytes:
    ls = liquidation_state(state)
    h = hashlib.sha256()
    h.update(f"params|{ls.params.auto_close}|{ls.params.slice}\n".encode())
    for account in sorted(ls.providers):
        h.update(f"provider|{account}|{ls.providers[account]}\n".encode())
    return h.digest()


# ---------------------------------------------------------------------------- dirty tracking


def _tracking(name: str, handle: Any) -> Any:
    """Wrap a handler: accounts it posted for, placed or filled orders for, are re-checked
    at the next liquidation run (the headroom index only knows about price moves). A
    `FastPath` stays one, with both paths noting the same accounts (the fast path's raw
    command carries the same account as the parsed params)."""

    def note(ctx: Context, account: object) -> None:
        ls: LiquidationState | None = ctx.state.ext.get(MODULE)
        if ls is None or not ls.built:
            return
        dirty = ls.dirty
        for posting in ctx.postings:  # who this command touched
            dirty.add(posting[1])
        if isinstance(account, str):
            dirty.add(account)
        data = ctx.data  # the event data of this command
        if data and name == "order":
            owners = ls.owners
            for maker_id, _, _ in data.get("fills", ()):
                owner = owners.get(maker_id)
                if owner is not None:
                    dirty.add(owner)
            if "rested" in data and isinstance(account, str):
                owners[data["id"]] = account

    def wrapped(ctx: Context, params: Any) -> None:
        handle(ctx, params)
        note(ctx, getattr(params, "account", None))

    if not isinstance(handle, FastPath):
        return wrapped
    fast = handle.fast

    def wrapped_fast(ctx: Context, raw: dict[str, Any]) -> bool:
        if not fast(ctx, raw):
            return False
        note(ctx, raw.get("account"))
        return True

    return FastPath(wrapped, wrapped_fast)


def register(registry: Registry) -> None:
    """Plug liquidation in (listed last in ENGINE_MODULES: it wraps the handlers before it)."""
    from exchange.lending import register_replay_shares
    from exchange.registry import CommandSpec, JobSpec

    for name, spec in list(registry.commands.items()):
        registry.commands[name] = CommandSpec(
            spec.name, spec.parse, _tracking(name, spec.handle), spec.time_field
        )
    registry.jobs[:] = [
        JobSpec(j.name, j.period_ms, _tracking(j.name, j.run), j.reads_clock) for j in registry.jobs
    ]
    registry.state(MODULE, LiquidationState)
    registry.digest(MODULE, _digest)
    registry.command("backstop_provider", _parse_provider, _provider)
    registry.command("insurance_fund", _parse_insurance, _insurance)
    registry.command("liquidation_params", _parse_params, _params)
    registry.job(JOB, PERIOD_MS, _job)
    registry.on_replay("backstop_provider", _replay_provider)
    registry.on_replay("liquidation_params", _replay_params)
    registry.on_replay(JOB, _replay_job)
    register_replay_shares(registry)
