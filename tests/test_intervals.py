"""Wilson intervals: the textbook values, the edges, and the report's true image counts."""

import math

import pytest

from erasure.evaluate.intervals import separated, wilson


def test_wilson_matches_the_closed_form_at_known_values():
    # 8 of 10: the interval Brown, Cai and DasGupta tabulate (0.490, 0.943)
    low, high = wilson(0.8, 10)
    assert (round(low, 3), round(high, 3)) == (0.490, 0.943)
    # 0 of n: the lower end is 0 and the upper end is z^2 / (n + z^2)
    z2 = 1.959963984540054**2
    assert wilson(0.0, 20) == (0.0, pytest.approx(z2 / (20 + z2)))
    assert wilson(1.0, 20) == (pytest.approx(20 / (20 + z2)), 1.0)


def test_more_images_give_a_narrower_interval_around_the_same_share():
    widths = [math.fsum((-wilson(0.3, n)[0], wilson(0.3, n)[1])) for n in (10, 100, 1000)]
    assert widths == sorted(widths, reverse=True)
    assert wilson(0.3, 1000)[0] < 0.3 < wilson(0.3, 1000)[1]


def test_a_difference_is_one_only_when_the_intervals_part():
    assert separated(wilson(0.9, 100), wilson(0.1, 100))
    assert not separated(wilson(0.55, 20), wilson(0.45, 20))


def test_no_interval_without_images():
    with pytest.raises(ValueError, match="at least one image"):
        wilson(0.5, 0)
