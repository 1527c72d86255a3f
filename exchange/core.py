"""Core commands: assets, accounts, deposits, withdrawals, transfers, the clock.

Posting patterns (amount a > 0, see docs/ledger.md):
  deposit            user.available +a        @custody.onchain -a
  withdraw           user.available -a        user.locked_withdrawal +a
  withdraw_complete  user.locked_withdrawal -a   @custody.onchain +a
  withdraw_cancel    user.locked_withdrawal -a   user.available +a
  transfer           from.available -a        to.available +a
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from exchange import fields
from exchange.engine import Context
from exchange.model import AMOUNT_LIMIT, CUSTODY, Asset, Event, lending_pool
from exchange.registry import Registry
from exchange.state import LedgerState

__all__ = ["CoreState", "Withdrawal", "core_state", "register"]

MAX_DECIMALS = 38  # 10^38 < 2^128: one whole unit always fits an amount


@dataclass(slots=True)
class Withdrawal:
    account: str
    asset: str
    amount: int
    address: str
    status: str  # "pending" | "completed" | "cancelled"
    tx: str | None = None


@dataclass(slots=True)
class CoreState:
    """Facts of the core commands that balances alone do not hold."""

    deposits: dict[str, tuple[str, str, int]] = field(
        default_factory=dict
    )  # tx -> (acct, asset, amt)
    withdrawals: dict[str, Withdrawal] = field(default_factory=dict)
    deposited: dict[str, int] = field(default_factory=dict)  # asset -> total deposited
    withdrawn: dict[str, int] = field(default_factory=dict)  # asset -> total withdrawn on chain


def core_state(state: LedgerState) -> CoreState:
    core: CoreState = state.ext["core"]
    return core


# -- parsers: shape only ---------------------------------------------------------------------
def _parse_asset(raw: dict[str, Any]) -> tuple[str, int]:
    return fields.symbol(raw, "symbol"), fields.integer(raw, "decimals", 0, MAX_DECIMALS)


def _parse_account(raw: dict[str, Any]) -> str:
    return fields.string(raw, "id")


def _parse_deposit(raw: dict[str, Any]) -> tuple[str, str, int, str]:
    account, asset, tx = fields.strings(raw, ("account", "asset", "tx"))
    return account, asset, fields.amount(raw), tx


def _parse_withdraw(raw: dict[str, Any]) -> tuple[str, str, int, str, str]:
    account, asset, address, wid = fields.strings(raw, ("account", "asset", "address", "id"))
    return account, asset, fields.amount(raw), address, wid


def _parse_withdraw_complete(raw: dict[str, Any]) -> tuple[str, str]:
    return fields.string(raw, "id"), fields.string(raw, "tx")


def _parse_withdraw_cancel(raw: dict[str, Any]) -> str:
    return fields.string(raw, "id")


def _parse_transfer(raw: dict[str, Any]) -> tuple[str, str, str, int]:
    src, dst, asset = fields.strings(raw, ("from", "to", "asset"))
    return src, dst, asset, fields.amount(raw)


def _parse_clock(raw: dict[str, Any]) -> None:
    return None  # the engine moves the clock from the "time" field before the handler


# -- handlers: ledger rules ----------------------------------------------------------------
def _asset(ctx: Context, p: tuple[str, int]) -> None:
    symbol, decimals = p
    if symbol in ctx.state.assets:
        ctx.reject("asset_must_be_new", symbol)
    assets = ctx.state.assets
    assets[symbol] = Asset(symbol, decimals)
    ctx.on_rollback(lambda: assets.pop(symbol, None))
    ctx.open_account(lending_pool(symbol), "system")


def _account(ctx: Context, account: str) -> None:
    if account.startswith("@"):
        ctx.reject("account_must_be_user_account", account)
    if not ctx.open_account(account):
        ctx.reject("account_must_be_new", account)


def _deposit(ctx: Context, p: tuple[str, str, int, str]) -> None:
    account, asset, amount, tx = p
    ctx.require_positive(amount)
    ctx.require_asset(asset)
    if account.startswith("@"):
        ctx.reject("account_must_be_user_account", account)
    core: CoreState = ctx.state.ext["core"]
    if tx in core.deposits:
        ctx.reject("deposit_tx_must_be_new", f"tx {tx} was already credited")
    ctx.open_account(account)  # a deposit address belongs to an account: first deposit opens it
    ctx.post((account, asset, "available", amount), (CUSTODY, asset, "onchain", -amount))
    # index updates last: nothing after them can reject (the size check runs on the
    # touched buckets, so undo them if it fails)
    core.deposits[tx] = (account, asset, amount)
    core.deposited[asset] = core.deposited.get(asset, 0) + amount

    def undo() -> None:
        del core.deposits[tx]
        core.deposited[asset] -= amount

    ctx.on_rollback(undo)


def _withdraw(ctx: Context, p: tuple[str, str, int, str, str]) -> None:
    account, asset, amount, address, wid = p
    ctx.require_positive(amount)
    ctx.require_asset(asset)
    ctx.require_user_account(account)
    core: CoreState = ctx.state.ext["core"]
    if wid in core.withdrawals:
        ctx.reject("withdrawal_id_must_be_new", wid)
    ctx.require_available(account, asset, amount)
    ctx.move(account, asset, "available", "locked_withdrawal", amount)
    core.withdrawals[wid] = Withdrawal(account, asset, amount, address, "pending")
    ctx.on_rollback(lambda: core.withdrawals.pop(wid, None))


def _pending(ctx: Context, wid: str) -> Withdrawal:
    w = ctx.state.ext["core"].withdrawals.get(wid)
    if w is None:
        ctx.reject("unknown_withdrawal", wid)
    assert isinstance(w, Withdrawal)
    if w.status != "pending":
        ctx.reject("withdrawal_must_be_pending", f"{wid} is {w.status}")
    return w


def _withdraw_complete(ctx: Context, p: tuple[str, str]) -> None:
    wid, tx = p
    w = _pending(ctx, wid)
    ctx.post(
        (w.account, w.asset, "locked_withdrawal", -w.amount),
        (CUSTODY, w.asset, "onchain", w.amount),
    )
    core: CoreState = ctx.state.ext["core"]
    w.status, w.tx = "completed", tx
    core.withdrawn[w.asset] = core.withdrawn.get(w.asset, 0) + w.amount

    def undo() -> None:
        w.status, w.tx = "pending", None
        core.withdrawn[w.asset] -= w.amount

    ctx.on_rollback(undo)


def _withdraw_cancel(ctx: Context, wid: str) -> None:
    w = _pending(ctx, wid)
    ctx.move(w.account, w.asset, "locked_withdrawal", "available", w.amount)
    w.status = "cancelled"

    def undo() -> None:
        w.status = "pending"

    ctx.on_rollback(undo)


def _transfer(ctx: Context, p: tuple[str, str, str, int]) -> None:
    src, dst, asset, amount = p
    state = ctx.state
    accounts = state.accounts
    # the hottest command: checks inlined, in the same order as the require_* helpers
    if not 0 < amount < AMOUNT_LIMIT:
        ctx.require_positive(amount)
    if asset not in state.assets:
        ctx.reject("unknown_asset", asset)
    if src not in accounts or dst not in accounts or src[0] == "@" or dst[0] == "@":
        ctx.require_user_account(src)
        ctx.require_user_account(dst)
    if src == dst:
        ctx.reject("accounts_must_differ", src)
    have = state.balances.get((src, asset, "available"), 0)
    if have < amount:
        ctx.reject("insufficient_available_balance", f"{src} has {have} {asset}, needs {amount}")
    ctx.post((src, asset, "available", -amount), (dst, asset, "available", amount))


def _clock(ctx: Context, _: None) -> None:
    return None


# -- replay: rebuild what balances do not hold ------------------------------------------------
def _replay_asset(state: LedgerState, event: Event) -> None:
    p = _parse_asset(_command(event))
    state.assets[p[0]] = Asset(p[0], p[1])
    state.accounts.setdefault(lending_pool(p[0]), "system")


def _replay_account(state: LedgerState, event: Event) -> None:
    state.accounts.setdefault(_parse_account(_command(event)), "user")


def _replay_deposit(state: LedgerState, event: Event) -> None:
    account, asset, amount, tx = _parse_deposit(_command(event))
    core = core_state(state)
    state.accounts.setdefault(account, "user")
    core.deposits[tx] = (account, asset, amount)
    core.deposited[asset] = core.deposited.get(asset, 0) + amount


def _replay_withdraw(state: LedgerState, event: Event) -> None:
    account, asset, amount, address, wid = _parse_withdraw(_command(event))
    core_state(state).withdrawals[wid] = Withdrawal(account, asset, amount, address, "pending")


def _replay_withdraw_complete(state: LedgerState, event: Event) -> None:
    wid, tx = _parse_withdraw_complete(_command(event))
    core = core_state(state)
    w = core.withdrawals[wid]
    w.status, w.tx = "completed", tx
    core.withdrawn[w.asset] = core.withdrawn.get(w.asset, 0) + w.amount


def _replay_withdraw_cancel(state: LedgerState, event: Event) -> None:
    core_state(state).withdrawals[_parse_withdraw_cancel(_command(event))].status = "cancelled"


def _command(event: Event) -> dict[str, Any]:
    import json

    raw: dict[str, Any] = json.loads(event.command)
    return raw


def _digest(state: LedgerState) -> bytes:
    core = core_state(state)
    h = hashlib.sha256()
    for tx in sorted(core.deposits):
        acct, asset, amount = core.deposits[tx]
        h.update(f"d|{tx}|{acct}|{asset}|{amount}\n".encode())
    for wid in sorted(core.withdrawals):
        w = core.withdrawals[wid]
        h.update(
            f"w|{wid}|{w.account}|{w.asset}|{w.amount}|{w.address}|{w.status}|{w.tx}\n".encode()
        )
    for name, totals in (("in", core.deposited), ("out", core.withdrawn)):
        for asset in sorted(totals):
            h.update(f"{name}|{asset}|{totals[asset]}\n".encode())
    return h.digest()


def register(registry: Registry) -> None:
    registry.state("core", CoreState)
    registry.digest("core", _digest)
    registry.command("asset", _parse_asset, _asset)
    registry.command("account", _parse_account, _account)
    registry.command("deposit", _parse_deposit, _deposit)
    registry.command("withdraw", _parse_withdraw, _withdraw)
    registry.command("withdraw_complete", _parse_withdraw_complete, _withdraw_complete)
    registry.command("withdraw_cancel", _parse_withdraw_cancel, _withdraw_cancel)
    registry.command("transfer", _parse_transfer, _transfer)
    registry.command("clock", _parse_clock, _clock, time_field="time")
    registry.on_replay("asset", _replay_asset)
    registry.on_replay("account", _replay_account)
    registry.on_replay("deposit", _replay_deposit)
    registry.on_replay("withdraw", _replay_withdraw)
    registry.on_replay("withdraw_complete", _replay_withdraw_complete)
    registry.on_replay("withdraw_cancel", _replay_withdraw_cancel)
