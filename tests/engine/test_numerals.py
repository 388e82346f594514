"""Amounts in Chinese capitals, as a contract or a payment voucher writes them."""
import pytest

from engine.method.numerals import capital_amount


@pytest.mark.parametrize("fen, capitals", [
    (7_600_000, "柒万陆仟元整"),            # 76,000 yuan: the issue's own example
    (11_000_000, "壹拾壹万元整"),
    (10_000_000, "壹拾万元整"),
    (10_050_000, "壹拾万零伍佰元整"),        # zeros inside a group read once
    (100_000_500, "壹佰万零伍元整"),         # a run of zeros across the 万 read once
    (10_000_001_000, "壹亿零壹拾元整"),      # an empty 万 group between 亿 and the rest
    (1_000_100, "壹万零壹元整"),
    (100_100, "壹仟零壹元整"),
    (10_500_000, "壹拾万伍仟元整"),          # no zero before a full group
    (123_456_789, "壹佰贰拾叁万肆仟伍佰陆拾柒元捌角玖分"),
])
def test_yuan_amounts(fen, capitals):
    assert capital_amount(fen) == capitals


@pytest.mark.parametrize("fen, capitals", [
    (100_050, "壹仟元零伍角整"),    # yuan ending in 0, then 角: one 零
    (100_005, "壹仟元零伍分"),      # no 角: 零 for it, and no 整 after 分
    (105, "壹元零伍分"),
    (168_032, "壹仟陆佰捌拾元零叁角贰分"),
    (1_234, "壹拾贰元叁角肆分"),
    (50, "伍角整"),
    (5, "伍分"),
    (0, "零元整"),
])
def test_jiao_and_fen(fen, capitals):
    assert capital_amount(fen) == capitals


@pytest.mark.parametrize("bad", [-1, 1.5, "100", True, 10**18])
def test_not_an_amount_is_refused(bad):
    with pytest.raises(ValueError):
        capital_amount(bad)
