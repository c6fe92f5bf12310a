"""per_level: the one broadcaster of per-level config fields (RSUStackHead, SABHead, AIMSIMNeck)."""
import pytest

from dbdseg.models.utils.per_level import per_level


def test_one_value_or_one_per_level():
    assert per_level(3, 4, 'heights', 'Head') == (3, 3, 3, 3)
    assert per_level([7, 6, 5], 3, 'heights', 'Head') == (7, 6, 5)
    assert per_level(True, 2, 'dilated', 'Head', kind=bool) == (True, True)
    assert per_level((False, True), 2, 'dilated', 'Head', kind=bool) == (False, True)
    weights = per_level(1, 3, 'side_loss_weights', 'Head', kind=float)
    assert weights == (1.0, 1.0, 1.0) and all(type(w) is float for w in weights)
    assert per_level((0, 0.5), 2, 'w', 'Head', kind=float) == (0.0, 0.5)
    assert per_level(None, 2, 'mid', 'Neck', allow_none=True) == (None, None)
    assert per_level((None, 4), 2, 'mid', 'Neck', allow_none=True, minimum=1) == (None, 4)


def test_errors_name_the_owner_and_the_argument():
    with pytest.raises(ValueError, match='Head: heights must be one int or a sequence of 5'):
        per_level((7, 6), 5, 'heights', 'Head')
    with pytest.raises(ValueError, match='heights'):
        per_level(True, 2, 'heights', 'Head')  # a bool is not an int
    with pytest.raises(ValueError, match='heights'):
        per_level((7, 6.5), 2, 'heights', 'Head')
    with pytest.raises(ValueError, match='dilated'):
        per_level(1, 2, 'dilated', 'Head', kind=bool)
    with pytest.raises(ValueError, match='mid'):
        per_level(None, 2, 'mid', 'Neck')
    with pytest.raises(ValueError, match='Neck: every aim_channels value must be >= 1'):
        per_level((4, 0), 2, 'aim_channels', 'Neck', minimum=1)
    with pytest.raises(ValueError, match='>= 0'):
        per_level(-1.0, 2, 'w', 'Head', kind=float, minimum=0)
