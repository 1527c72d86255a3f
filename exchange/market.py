"""Market definitions: what is traded, on which price and size grid, at which fees.

A leaf beside `exchange.values` (imports only `exchange.values` and `exchange.errors`):
matching keeps the books of these markets, and pricing, margin, settlement and
liquidation read the same record (its grid, fees, `notional`, `buy_lock`) from here.

Units. Every number is an `int` in a smallest unit:
- quantities are in the base asset's smallest unit (satoshi for BTC) and must be a multiple
  of `step_size`;
- prices are quote smallest units per ONE WHOLE base unit (micro-USDC per BTC) and must be a
  multiple of `tick_size`;
- notional(quantity, price) = quantity * price // 10**base_decimals.

A market is only accepted when `tick_size * step_size` is a multiple of `10**base_decimals`:
then every notional on the grid is an exact integer and fees are the only rounding there is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from exchange.errors import MarketConfigError
from exchange.values import PPM, MarketKind, MarketState

__all__ = [
    "FEE_PPM_MAX",
    "MAX_PRICE",
    "MAX_QUANTITY",
    "Market",
    "fee",
]

FEE_PPM_MAX = 100_000  # 10 %: a larger fee rate is a configuration mistake
MAX_QUANTITY = 10**24  # upper bound of an order quantity, in base smallest units
MAX_PRICE = 10**24  # upper bound of a price, in quote smallest units per whole base unit


@dataclass(frozen=True, slots=True)
class Market:
    """One tradable instrument.

    Fields: `symbol` (e.g. "BTC/USDC", "BTC-PERP"), `kind`, `base`/`quote` asset symbols,
    `base_decimals` (the base asset's scale), `tick_size`, `step_size`, `min_notional`
    (quote units), `maker_fee_ppm` (negative = rebate), `taker_fee_ppm`, `state`.
    Guarantees: validated by `__post_init__`; a maker rebate never exceeds the taker fee, so
    the fee account never pays out more on a fill than it takes in.
    Updates: never in place; a `market` command for an existing symbol may only change
    `state` (a new record replaces the old one); the grid and fees are fixed for the
    market's life (resting buys reserved fees at these rates).
    """

    symbol: str
    kind: MarketKind
    base: str
    quote: str
    base_decimals: int
    tick_size: int
    step_size: int
    min_notional: int
    maker_fee_ppm: int
    taker_fee_ppm: int
    state: MarketState = MarketState.OPEN
    # derived once (hot paths read them): 10**base_decimals and the lock fee rate
    scale: int = field(init=False, repr=False, compare=False)
    lock_fee_ppm: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        def fail(rule: str) -> None:
            raise MarketConfigError(f"market {self.symbol!r}: {rule}")

        if not self.symbol:
            fail("symbol must not be empty")
        if self.base == self.quote:
            fail(f"base and quote must differ, both are {self.base!r}")
        if not 0 <= self.base_decimals <= 30:
            fail(f"base_decimals must be in 0..30, got {self.base_decimals}")
        # the rate a resting buy reserves fees at: the higher of maker and taker (>= 0)
        object.__setattr__(self, "scale", 10**self.base_decimals)
        object.__setattr__(self, "lock_fee_ppm", max(self.maker_fee_ppm, self.taker_fee_ppm, 0))
        if not 0 < self.tick_size <= MAX_PRICE:
            fail(f"tick_size must be in 1..{MAX_PRICE}, got {self.tick_size}")
        if not 0 < self.step_size <= MAX_QUANTITY:
            fail(f"step_size must be in 1..{MAX_QUANTITY}, got {self.step_size}")
        if (self.tick_size * self.step_size) % self.scale:
            fail(
                "tick_size * step_size must be a multiple of 10**base_decimals so every "
                f"notional is a whole quote unit: got {self.tick_size} * {self.step_size}"
            )
        if self.min_notional < 0:
            fail(f"min_notional must not be negative, got {self.min_notional}")
        if not 0 <= self.taker_fee_ppm <= FEE_PPM_MAX:
            fail(f"taker_fee_ppm must be in 0..{FEE_PPM_MAX}, got {self.taker_fee_ppm}")
        if not -self.taker_fee_ppm <= self.maker_fee_ppm <= FEE_PPM_MAX:
            fail(
                f"maker_fee_ppm must be in -taker_fee_ppm..{FEE_PPM_MAX} (a rebate may not "
                f"exceed the taker fee), got {self.maker_fee_ppm}"
            )

    @property
    def is_perp(self) -> bool:
        return self.kind is MarketKind.PERP

    def notional(self, quantity: int, price: int) -> int:
        """Quote amount of `quantity` at `price`; exact on the grid."""
        return quantity * price // self.scale

    def buy_lock(self, quantity: int, price: int) -> int:
        """Quote a spot buy of `quantity` at limit `price` reserves (available -> locked).

        Linear in steps: (quantity / step) * (notional of one step + that notional's fee at
        `lock_fee_ppm`, rounded up). Because it is linear, a fill of q releases exactly
        lock(q), which always covers the fill's notional plus its fee (ceil is subadditive).
        """
        step = self.step_size
        per_step = step * price // self.scale
        return quantity // step * (per_step - (-per_step * self.lock_fee_ppm // PPM))

    def order_quantity(self, quantity: int, price: int) -> int:
        """`quantity` rounded up to the step, then raised to the least quantity on the grid
        whose notional at `price` reaches `min_notional` (how engines size their own orders)."""
        step = self.step_size
        qty = -(-quantity // step) * step
        if qty * price // self.scale < self.min_notional:
            least = -(-self.min_notional * self.scale // price)
            qty = -(-least // step) * step
        return qty

    def quantity_to_raise(self, proceeds: int, price: int) -> int:
        """The `order_quantity` of a sale at `price` whose proceeds after the taker fee cover
        `proceeds` quote units (settlement's conversion, liquidation's collateral sale)."""
        gross = -(-proceeds * PPM // max(PPM - self.taker_fee_ppm, 1))
        return self.order_quantity(-(-gross * self.scale // price), price)


def fee(notional: int, ppm: int) -> int:
    """Fee on `notional` at `ppm`, rounded in the exchange's favour.

    A charge (ppm > 0) rounds up; a rebate (ppm < 0, the result is negative) rounds toward
    zero, i.e. the rebate paid is rounded down. Both are ceil(notional * ppm / 10^6).
    """
    return -(-notional * ppm // PPM)
