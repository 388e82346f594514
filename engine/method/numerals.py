"""Amounts in Chinese capital numerals (大写金额), as written on contracts and vouchers.

The rules of the financial bookkeeping norms (会计基础工作规范, art. 52): digits 零壹贰叁肆伍陆柒捌玖,
units 拾佰仟 within a group of four and 万亿 between groups; a run of zeros inside the
number reads as one 零; zeros at the end of a group are not read, but a group that starts
with zero after a non-zero group reads 零 first (壹万零伍佰); 元 follows the integer part,
then 角 and 分; an amount without 分 ends with 整 (正), one with 角 and no 分 too.
"""
DIGITS = "零壹贰叁肆伍陆柒捌玖"
SMALL_UNITS = ("", "拾", "佰", "仟")
GROUP_UNITS = ("", "万", "亿", "万亿")
MAX_FEN = 10**18  # below 一万万亿 yuan


def _group(number: int) -> str:
    """0 < number < 10000 in capitals, with inner zeros read once (no leading zero)."""
    text, zero = "", False
    for position in range(3, -1, -1):
        digit = number // 10**position % 10
        if digit == 0:
            zero = bool(text)
            continue
        if zero:
            text += "零"
            zero = False
        text += DIGITS[digit] + SMALL_UNITS[position]
    return text


def _integer(number: int) -> str:
    groups: list[int] = []
    while number:
        groups.append(number % 10000)
        number //= 10000
    text, zero = "", False
    for index in range(len(groups) - 1, -1, -1):
        value = groups[index]
        if value == 0:
            zero = bool(text)
            continue
        # a zero between this group and the one before: 壹万零伍佰, 壹亿零伍万, 壹拾万零伍
        if text and (zero or value < 1000):
            text += "零"
        zero = False
        text += _group(value) + GROUP_UNITS[index]
    return text


def capital_amount(fen: object) -> str:
    """An amount in fen as capitals: 7600000 -> 柒万陆仟元整, 100050 -> 壹仟元零伍角整,
    100005 -> 壹仟元零伍分, 5 -> 伍分, 0 -> 零元整. Anything but a whole number of fen in range
    (amounts come from agreement content, which is JSON) raises ValueError."""
    if not isinstance(fen, int) or isinstance(fen, bool) or fen < 0 or fen >= MAX_FEN:
        raise ValueError(f"not an amount in fen: {fen!r}")
    yuan_part, jiao, fen_digit = fen // 100, fen // 10 % 10, fen % 10
    if fen == 0:
        return "零元整"
    text = _integer(yuan_part) + "元" if yuan_part else ""
    if jiao == 0 and fen_digit == 0:
        return text + "整"
    if jiao:
        # 壹仟元零伍角: a zero read between a yuan amount ending in 0 and the 角 (common practice)
        if yuan_part and yuan_part % 10 == 0:
            text += "零"
        text += DIGITS[jiao] + "角"
    elif yuan_part:
        text += "零"
    if fen_digit:
        return text + DIGITS[fen_digit] + "分"
    return text + "整"
