"""Small statistics and the occlusion protocol in words."""
import pytest

from partkd.data.occlusion import OCCLUSION_WORDS, describe_protocol
from partkd.stats import wilson_interval


def test_wilson_interval_hand_computed() -> None:
    # 80 of 100: centre (0.8 + 1.96²/200) / (1 + 1.96²/100), half-width 1.96 / 1.0384 · sqrt(0.0016 + 0.000096)
    assert wilson_interval(0.8, 100) == pytest.approx((0.71117, 0.86663), abs=1e-5)
    lo, hi = wilson_interval(1.0, 20)
    assert hi == 1.0 and lo == pytest.approx(20 / (20 + 1.96**2), abs=1e-9)  # all correct: lower end n / (n + z²)
    assert wilson_interval(0.5, 0) == (0.0, 1.0)


def test_the_protocol_in_words() -> None:
    assert describe_protocol("span", 3) == f"'span' occlusion ({OCCLUSION_WORDS['span']}), seed 3"
    assert "25% of the clip" in OCCLUSION_WORDS["span"]
