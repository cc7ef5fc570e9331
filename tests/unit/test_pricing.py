"""The pricing rule: usage x effective-dated price -> whole credits, never under-charging."""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from asynccoder.domain.ai import Usage
from asynccoder.domain.ai_catalogue import (
    ModelPrice,
    percentile_from_buckets,
    price_at,
    price_usage,
)
from asynccoder.domain.billing import MICRO_USD_PER_CREDIT
from tests.support.ai_catalogue_builders import make_price
from tests.support.builders import T0, new_id

tokens = st.integers(min_value=0, max_value=10_000_000)
prices_per_mtok = st.integers(min_value=0, max_value=200_000_000)
usages = st.builds(Usage, tokens, tokens, tokens, tokens)
prices = st.builds(
    lambda a, b, c, d: make_price(
        new_id(),
        input_micro_usd_per_mtok=a,
        output_micro_usd_per_mtok=b,
        cache_read_micro_usd_per_mtok=c,
        cache_write_micro_usd_per_mtok=d,
    ),
    prices_per_mtok,
    prices_per_mtok,
    prices_per_mtok,
    prices_per_mtok,
)


def exact_credits(usage: Usage, price: ModelPrice) -> Fraction:
    micro_usd = Fraction(
        usage.input_tokens * price.input_micro_usd_per_mtok
        + usage.output_tokens * price.output_micro_usd_per_mtok
        + usage.cache_read_tokens * price.cache_read_micro_usd_per_mtok
        + usage.cache_write_tokens * price.cache_write_micro_usd_per_mtok,
        1_000_000,
    )
    return micro_usd / MICRO_USD_PER_CREDIT


def test_a_known_call_costs_what_the_price_list_says() -> None:
    # Sonnet-like: $3 in / $15 out per million. 10k in + 2k out = $0.03 + $0.03 = $0.06 = 60 credits.
    price = make_price(new_id())
    assert price_usage(Usage(input_tokens=10_000, output_tokens=2_000), price) == 60


def test_a_fraction_of_a_credit_is_rounded_up() -> None:
    assert price_usage(Usage(input_tokens=1), make_price(new_id())) == 1


@given(prices)
def test_zero_usage_costs_nothing(price: ModelPrice) -> None:
    assert price_usage(Usage(), price) == 0


@given(usages, prices)
def test_the_charge_is_never_below_the_exact_cost_and_less_than_one_credit_above(
    usage: Usage, price: ModelPrice
) -> None:
    charged = price_usage(usage, price)
    exact = exact_credits(usage, price)
    assert exact <= charged < exact + 1


@given(usages, prices, st.sampled_from(range(4)), st.integers(min_value=1, max_value=1_000_000))
def test_more_tokens_of_any_kind_never_cost_less(
    usage: Usage, price: ModelPrice, which: int, extra: int
) -> None:
    more = [0, 0, 0, 0]
    more[which] = extra
    assert price_usage(usage + Usage(*more), price) >= price_usage(usage, price)


@given(usages, usages, prices)
def test_pricing_is_additive_within_one_credit_per_call(a: Usage, b: Usage, price: ModelPrice) -> None:
    together = price_usage(a + b, price)
    separately = price_usage(a, price) + price_usage(b, price)
    assert together <= separately <= together + 1


def test_the_price_at_a_time_is_the_latest_row_that_started_by_then() -> None:
    model_id = new_id()
    old = make_price(model_id, effective_from=T0)
    new = make_price(model_id, effective_from=T0 + timedelta(days=10), input_micro_usd_per_mtok=1)
    assert price_at([new, old], T0 - timedelta(seconds=1)) is None
    assert price_at([new, old], T0 + timedelta(days=9)) == old
    assert price_at([new, old], T0 + timedelta(days=10)) == new


def test_latency_percentiles_come_from_histogram_bucket_upper_bounds() -> None:
    buckets = [0] * 12
    buckets[0] = 90  # <= 100 ms
    buckets[4] = 10  # <= 2000 ms
    assert percentile_from_buckets(buckets, 0.50) == 100
    assert percentile_from_buckets(buckets, 0.95) == 2000
    assert percentile_from_buckets([0] * 12, 0.5) is None
