"""Index from sources, the EWMA mark, and the price bands, with exact integers."""

from __future__ import annotations

import pytest
from pricing_venue import STEP, P, PriceVenue

from exchange.pricing import (
    DEFAULT_BANDS,
    DEFAULT_INDEX,
    EWMA_SCALE,
    IndexParams,
    IndexRejected,
    RecordedFeed,
    clamp_mark,
    compute_index,
    ewma_step,
    index_command,
    premium_sample,
)


def test_index_is_the_mean_of_the_sources_within_one_percent_of_their_median() -> None:
    result = compute_index({"a": 100_000, "b": 100_400, "c": 99_800, "d": 130_000}, None,
                           DEFAULT_INDEX)  # fmt: skip
    assert result.price == (100_000 + 100_400 + 99_800) // 3
    assert result.filtered == {"d": "source_outside_median_band"}


def test_zero_and_negative_sources_are_filtered_with_their_reason() -> None:
    result = compute_index({"a": 0, "b": -5, "c": 100_000}, None, DEFAULT_INDEX)
    assert result.price == 100_000
    assert result.filtered == {"a": "price_must_be_positive", "b": "price_must_be_positive"}


def test_no_valid_source_is_rejected() -> None:
    with pytest.raises(IndexRejected, match="none positive") as err:
        compute_index({"a": 0}, 100_000, DEFAULT_INDEX)
    assert err.value.reason == "index_needs_a_valid_source"


def test_two_disagreeing_sources_fall_back_to_the_previous_index_band() -> None:
    result = compute_index({"a": 100_500, "b": 104_000}, 100_000, DEFAULT_INDEX)
    assert (result.price, result.fallback) == (100_500, True)
    assert result.filtered == {"b": "source_outside_previous_band"}
    with pytest.raises(IndexRejected, match="no previous index") as err:
        compute_index({"a": 100_500, "b": 104_000}, None, DEFAULT_INDEX)
    assert err.value.reason == "index_sources_must_agree"


def test_too_few_agreeing_sources_for_min_sources_is_rejected() -> None:
    params = IndexParams(min_sources=3)
    with pytest.raises(IndexRejected) as err:
        compute_index({"a": 100_000, "b": 100_100}, 100_000, params)
    assert err.value.reason == "index_sources_must_agree"


def test_an_index_jump_beyond_the_band_is_rejected_and_never_moves_the_mark(
    venue: PriceVenue,
) -> None:
    assert venue.index(P, P, P).accepted
    venue.clock(1)
    mark = venue.mark()
    assert mark == P
    event = venue.index(P * 12 // 10, P * 12 // 10)  # every source says +20 %: an outlier jump
    assert (event.status, event.reason) == ("rejected", "index_jump_must_be_within_band")
    event = venue.index(0, -1)
    assert (event.status, event.reason) == ("rejected", "index_needs_a_valid_source")
    venue.clock(5)
    assert venue.mark() == mark, "a rejected index update moved the mark"
    venue.assert_replays()


def test_one_outlier_source_is_filtered_and_the_index_follows_the_others(
    venue: PriceVenue,
) -> None:
    event = venue.index(P, P + P // 500, P * 2)
    assert event.accepted
    assert event.data == {"index": P + P // 1000, "filtered": {"s2": "source_outside_median_band"}}


def test_the_ewma_takes_two_over_301_of_each_sample_exactly() -> None:
    ewma = ewma_step(0, 3_000, 300)
    assert ewma == 3_000 * EWMA_SCALE * 2 // 301
    assert ewma_step(ewma, 3_000, 300) == ewma + (3_000 * EWMA_SCALE - ewma) * 2 // 301


def test_the_premium_sample_is_clamped_to_the_mean_premium_band() -> None:
    index = 100_000_000
    assert premium_sample(index, 100_500_000, 100_600_000, DEFAULT_BANDS) == 500_000
    assert premium_sample(index, 90_000_000, 95_000_000, DEFAULT_BANDS) == -1_000_000
    assert premium_sample(index, 99_000_000, 101_000_000, DEFAULT_BANDS) == 0, "index inside"
    assert premium_sample(index, None, None, DEFAULT_BANDS) == 0


def test_the_mark_is_held_within_the_mean_mark_band_of_the_index() -> None:
    """Default band 0.9-1.1 x index (the design's recorded values)."""
    index = 100_000_000
    assert clamp_mark(index, 12_000_000 * EWMA_SCALE, DEFAULT_BANDS) == 110_000_000
    assert clamp_mark(index, -12_000_000 * EWMA_SCALE, DEFAULT_BANDS) == 90_000_000
    assert clamp_mark(index, 9_000_000 * EWMA_SCALE, DEFAULT_BANDS) == 109_000_000
    assert clamp_mark(index, 1_234 * EWMA_SCALE + 7, DEFAULT_BANDS) == index + 1_234


def test_the_mark_follows_a_book_above_the_index_one_sample_per_second(
    venue: PriceVenue,
) -> None:
    venue.index(P)
    venue.fund("mm", "USDC", 10**12)
    venue.order("mm", "buy", STEP, P + P // 200)  # best bid 0.5 % above the index
    venue.order("mm", "sell", STEP, P + P // 100)
    expected = 0
    for second in range(1, 12):
        expected = ewma_step(expected, P // 200, 300)
        venue.clock(second)
    assert venue.state.ext["pricing"].ewma["BTC-PERP"] == expected
    assert venue.mark() == P + expected // EWMA_SCALE
    venue.assert_replays()


def test_a_limit_price_outside_the_band_is_rejected(venue: PriceVenue) -> None:
    venue.index(P)
    venue.clock(1)
    venue.fund("a", "USDC", 10**12)
    event = venue.order("a", "buy", STEP, P * 13 // 10)
    assert (event.status, event.reason) == ("rejected", "price_must_be_within_band")
    event = venue.order("a", "sell", STEP, P * 7 // 10)
    assert (event.status, event.reason) == ("rejected", "price_must_be_within_band")
    assert venue.order("a", "buy", STEP, P * 8 // 10).accepted, "inside the band rests"


def test_an_aggressive_order_never_fills_beyond_the_impact_band(venue: PriceVenue) -> None:
    venue.index(P)
    venue.clock(1)
    venue.fund("mm", "USDC", 10**12)
    venue.fund("a", "USDC", 10**12)
    venue.order("mm", "sell", STEP, P)
    venue.order("mm", "sell", STEP, P * 102 // 100)  # beyond the 1.01 impact band
    ioc = venue.order("a", "buy", 2 * STEP, P * 105 // 100, tif="IOC")
    assert ioc.data["fills"] == [[1, STEP, P]] and ioc.data["expired"] == STEP
    gtc = venue.order("a", "buy", STEP, P * 105 // 100)
    assert gtc.data == {"id": 4, "rested": STEP}, "a GTC remainder rests at the band edge"
    book = venue.state.ext["matching"].books["BTC-PERP"]
    assert book.best_bid() == P * 101 // 100
    market = venue.order("a", "buy", STEP)
    assert market.data.get("fills") is None and market.data["expired"] == STEP
    venue.assert_replays()


def test_a_recorded_feed_becomes_an_index_price_command() -> None:
    feeds = [RecordedFeed("x", {"BTC": [(0, 10), (1_000, 11)]}),
             RecordedFeed("y", {"BTC": [(500, 12)]})]  # fmt: skip
    command = index_command("BTC", feeds, 999)
    assert command["sources"] == {"x": "10", "y": "12"}
    assert index_command("BTC", feeds, 0)["sources"] == {"x": "10"}
