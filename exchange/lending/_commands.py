"""Commands of the lending module, and the auto-lend/auto-redeem wrappers of core commands.

Commands (docs/commands.md):
    lending_pool  {"asset", "optimal_utilisation"?, "base_rate"?, "slope1"?, "slope2"?,
                   "fee"?, "throttle"?}     decimal strings; omitted fields keep defaults
    auto_lend     {"account", "asset", "enabled": true|false}
    lend | redeem | borrow | repay   {"account", "asset", "amount"}

Wrapped core commands (the core handler runs unchanged in the middle):
    deposit          then sweep: repay a debt in that asset, lend the rest (auto-lend)
    transfer         redeem the sender's lend if needed; margin check of the sender;
                     sweep the receiver
    withdraw         redeem the lend if needed; then the margin check
    withdraw_cancel  then sweep

Wrapped matching commands (`order`, `cancel`, `cancel_all`; a `FastPath` stays one):
    after the command, every (account, asset) it credited to `available` is swept: fill
    proceeds, what was redeemed for an order and not spent, locks a cancel released. So
    nothing a user holds sits idle while auto-lend is on (docs/margin.md).
"""

from __future__ import annotations

from dataclasses import fields as dc_fields
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from exchange import fields
from exchange.engine import FastPath
from exchange.errors import InvalidCommandError
from exchange.registry import CommandSpec, Registry
from exchange.values import fraction

from ._ops import (
    borrow,
    borrowable,
    ensure_available,
    lend,
    lending_state,
    pool_totals,
    redeem,
    redeemable,
    repay,
    sweep,
)
from ._pool import DEFAULT_PARAMS, PoolParams

if TYPE_CHECKING:
    from exchange.engine import Context

__all__ = ["MarginGuard", "check_margin", "register_commands", "sweep_credited"]


class MarginGuard(Protocol):
    """What the margin module offers lending: None if `account` still meets initial margin."""

    def initial_margin_problem(self, ctx: Context, account: str) -> str | None: ...


def check_margin(ctx: Context, account: str) -> None:
    """Reject the command if it leaves `account` below initial margin (when margin is on)."""
    guard: MarginGuard | None = ctx.state.ext.get("margin")
    if guard is not None:
        problem = guard.initial_margin_problem(ctx, account)
        if problem is not None:
            ctx.reject("margin_must_cover_initial", problem)


# -- parsers ----------------------------------------------------------------------------------
_PARAM_NAMES = tuple(f.name for f in dc_fields(PoolParams))


def _parse_pool(raw: dict[str, Any]) -> tuple[str, dict[str, int]]:
    asset = fields.symbol(raw, "asset")
    return asset, {name: fraction(raw, name) for name in _PARAM_NAMES if name in raw}


def _parse_auto_lend(raw: dict[str, Any]) -> tuple[str, str, bool]:
    enabled = raw.get("enabled")
    if not isinstance(enabled, bool):
        raise InvalidCommandError("field 'enabled' must be true or false")
    return fields.string(raw, "account"), fields.string(raw, "asset"), enabled


def _parse_amount(raw: dict[str, Any]) -> tuple[str, str, int]:
    return fields.string(raw, "account"), fields.string(raw, "asset"), fields.amount(raw)


# -- handlers ---------------------------------------------------------------------------------
def _pool(ctx: Context, p: tuple[str, dict[str, int]]) -> None:
    asset, given = p
    ctx.require_asset(asset)
    ls = lending_state(ctx.state)
    params = replace(ls.params.get(asset, DEFAULT_PARAMS), **given)
    problems = params.problems()
    if problems:
        ctx.reject("pool_params_must_be_valid", "; ".join(problems))
    old = ls.params.get(asset)
    ls.params[asset] = params

    def undo() -> None:
        if old is None:
            ls.params.pop(asset, None)
        else:
            ls.params[asset] = old

    ctx.on_rollback(undo)


def _auto_lend(ctx: Context, p: tuple[str, str, bool]) -> None:
    account, asset, enabled = p
    ctx.require_user_account(account)
    ctx.require_asset(asset)
    off = lending_state(ctx.state).auto_lend_off
    key = (account, asset)
    was_off = key in off
    if enabled:
        off.discard(key)
    else:
        off.add(key)
    ctx.on_rollback(lambda: off.add(key) if was_off else off.discard(key))
    if enabled:
        sweep(ctx, account, asset)


def _checked(ctx: Context, p: tuple[str, str, int]) -> tuple[str, str, int]:
    account, asset, amount = p
    ctx.require_positive(amount)
    ctx.require_asset(asset)
    ctx.require_user_account(account)
    if not lending_state(ctx.state).is_open(asset):
        ctx.reject("pool_must_be_open", f"no lending_pool command opened {asset}")
    return account, asset, amount


def _pool_limit(ctx: Context, asset: str, amount: int, allowed: int, what: str) -> None:
    if amount > allowed:
        _, _, liquidity = pool_totals(ctx.state, asset)
        if amount > liquidity:
            ctx.reject("pool_liquidity_must_cover", f"{what} {amount}, pool has {liquidity}")
        ctx.reject(f"pool_{what}s_throttled", f"{what} {amount}, throttle allows {allowed}")


def _lend(ctx: Context, p: tuple[str, str, int]) -> None:
    account, asset, amount = _checked(ctx, p)
    ctx.require_available(account, asset, amount)
    lend(ctx, account, asset, amount)


def _redeem(ctx: Context, p: tuple[str, str, int]) -> None:
    account, asset, amount = _checked(ctx, p)
    have = ctx.balance(account, asset, "lent")
    if amount > have:
        ctx.reject("redeem_must_not_exceed_lent", f"{account} lent {have}, redeem {amount}")
    _pool_limit(ctx, asset, amount, redeemable(ctx.state, asset), "redemption")
    redeem(ctx, account, asset, amount)


def _borrow(ctx: Context, p: tuple[str, str, int]) -> None:
    account, asset, amount = _checked(ctx, p)
    _pool_limit(ctx, asset, amount, borrowable(ctx.state, asset), "borrow")
    borrow(ctx, account, asset, amount)
    check_margin(ctx, account)


def _repay(ctx: Context, p: tuple[str, str, int]) -> None:
    account, asset, amount = _checked(ctx, p)
    debt = -ctx.balance(account, asset, "borrowed")
    if amount > debt:
        ctx.reject("repay_must_not_exceed_debt", f"{account} owes {debt}, repay {amount}")
    ensure_available(ctx, account, asset, amount)
    ctx.require_available(account, asset, amount)
    repay(ctx, account, asset, amount)


# -- wrappers of core commands ----------------------------------------------------------------
def _wrap(
    registry: Registry,
    name: str,
    pick: Any,
    before: Any = None,
    after: Any = None,
) -> None:
    spec = registry.commands.get(name)
    if spec is None:
        return
    inner_parse, inner_handle = spec.parse, spec.handle

    def parse(raw: dict[str, Any]) -> tuple[Any, Any]:
        return inner_parse(raw), pick(raw)

    def handle(ctx: Context, p: tuple[Any, Any]) -> None:
        inner, mine = p
        if before is not None:
            before(ctx, mine)
        inner_handle(ctx, inner)
        if after is not None:
            after(ctx, mine)

    registry.commands[name] = CommandSpec(name, parse, handle, spec.time_field)


def _account_asset(raw: dict[str, Any]) -> tuple[str, str]:
    return str(raw.get("account")), str(raw.get("asset"))


def _withdraw_pick(raw: dict[str, Any]) -> tuple[str, str, int]:
    return str(raw.get("account")), str(raw.get("asset")), fields.amount(raw)


def _transfer_pick(raw: dict[str, Any]) -> tuple[str, str, str, int]:
    return str(raw.get("from")), str(raw.get("to")), str(raw.get("asset")), fields.amount(raw)


def _free_funds(ctx: Context, p: tuple[str, str, int]) -> None:
    account, asset, amount = p
    if amount > 0 and asset in ctx.state.assets and account in ctx.state.accounts:
        ensure_available(ctx, account, asset, amount)


def _after_withdraw(ctx: Context, p: tuple[str, str, int]) -> None:
    check_margin(ctx, p[0])


def _before_transfer(ctx: Context, p: tuple[str, str, str, int]) -> None:
    _free_funds(ctx, (p[0], p[2], p[3]))


def _after_transfer(ctx: Context, p: tuple[str, str, str, int]) -> None:
    check_margin(ctx, p[0])
    sweep(ctx, p[1], p[2])


def _after_cancel(ctx: Context, wid: str) -> None:
    w = ctx.state.ext["core"].withdrawals.get(wid)
    if w is not None:
        sweep(ctx, w.account, w.asset)


def sweep_credited(ctx: Context, start: int = 0) -> None:
    """Sweep (repay, then auto-lend) every user (account, asset) this command or job has
    credited to `available` so far (from its `start`-th posting), in the order first
    credited. Nothing to do while no pool is open (the check costs one lookup)."""
    params = lending_state(ctx.state).params
    if not params:
        return
    credited: dict[tuple[str, str], None] = {}
    postings = ctx.postings
    for _, account, asset, bucket, amount in postings[start:] if start else postings:
        if amount > 0 and bucket == "available" and asset in params and account[0] != "@":
            credited[(account, asset)] = None
    for account, asset in credited:
        sweep(ctx, account, asset)


def _sweeping(spec: CommandSpec) -> CommandSpec:
    """`spec` with `sweep_credited` after its handler (both paths of a `FastPath`)."""
    inner = spec.handle

    def handle(ctx: Context, params: Any) -> None:
        inner(ctx, params)
        sweep_credited(ctx)

    if not isinstance(inner, FastPath):
        return CommandSpec(spec.name, spec.parse, handle, spec.time_field)
    fast = inner.fast

    def handle_fast(ctx: Context, raw: dict[str, Any]) -> bool:
        if not fast(ctx, raw):
            return False
        sweep_credited(ctx)
        return True

    return CommandSpec(spec.name, spec.parse, FastPath(handle, handle_fast), spec.time_field)


def register_commands(registry: Registry) -> None:
    registry.command("lending_pool", _parse_pool, _pool)
    registry.command("auto_lend", _parse_auto_lend, _auto_lend)
    registry.command("lend", _parse_amount, _lend)
    registry.command("redeem", _parse_amount, _redeem)
    registry.command("borrow", _parse_amount, _borrow)
    registry.command("repay", _parse_amount, _repay)
    _wrap(registry, "deposit", _account_asset, after=lambda ctx, p: sweep(ctx, *p))
    _wrap(registry, "withdraw", _withdraw_pick, before=_free_funds, after=_after_withdraw)
    _wrap(registry, "transfer", _transfer_pick, before=_before_transfer, after=_after_transfer)
    _wrap(registry, "withdraw_cancel", lambda raw: str(raw.get("id")), after=_after_cancel)
    for name in ("order", "cancel", "cancel_all"):
        spec = registry.commands.get(name)
        if spec is not None:
            registry.commands[name] = _sweeping(spec)
