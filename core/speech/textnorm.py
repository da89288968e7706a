"""Text normalisation for speech: the spoken form used to build language models, and the comparison form
used to score transcripts (word error rate) so that "20 mg" and "twenty milligrams" count as equal."""

from __future__ import annotations

import re

_UNITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
          "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14,
    "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19, "twentieth": 20,
    "thirtieth": 30,
}
# Written abbreviations an engine may print for what was spoken in full.
_ABBREVIATIONS = {
    "mg": "milligrams", "mgs": "milligrams", "milligram": "milligrams", "mcg": "micrograms",
    "ml": "millilitres", "milliliters": "millilitres", "kg": "kilograms", "kgs": "kilograms",
    "%": "percent", "dr": "doctor", "hrs": "hours", "mins": "minutes", "ok": "okay",
}

# Contractions, expanded the same way on both sides of a comparison.
_CONTRACTIONS = {
    "i'm": "i am", "can't": "cannot", "won't": "will not", "shan't": "shall not", "let's": "let us",
    "it's": "it is", "that's": "that is", "there's": "there is", "what's": "what is", "he's": "he is",
    "she's": "she is", "n't": " not", "'re": " are", "'ve": " have", "'ll": " will", "'d": " would",
}

_WORD_VALUE = {w: i for i, w in enumerate(_UNITS)} | {w: 10 * i for i, w in enumerate(_TENS) if w != "_"}


def number_words(n: int) -> str:
    """0 <= n < 1,000,000 in words: 250 -> "two hundred fifty"."""
    if n < 0 or n >= 1_000_000:
        raise ValueError(f"number out of range: {n}")
    if n < 20:
        return _UNITS[n]
    if n < 100:
        tens, rest = divmod(n, 10)
        return _TENS[tens] + ("" if rest == 0 else " " + _UNITS[rest])
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return _UNITS[hundreds] + " hundred" + ("" if rest == 0 else " " + number_words(rest))
    thousands, rest = divmod(n, 1000)
    return number_words(thousands) + " thousand" + ("" if rest == 0 else " " + number_words(rest))


def _digits_to_words(match: re.Match) -> str:
    whole, frac = match.group(1), match.group(2)
    value = int(whole)
    words = number_words(value) if value < 1_000_000 else " ".join(_UNITS[int(d)] for d in whole)
    if frac:
        words += " point " + " ".join(_UNITS[int(d)] for d in frac)
    return f" {words} "


def _ordinal_words(match: re.Match) -> str:
    value = int(match.group(1))
    by_value = {v: w for w, v in _ORDINALS.items()}
    if value in by_value:
        return f" {by_value[value]} "
    tens, rest = divmod(value, 10)
    if value < 100 and rest and tens >= 2:
        return f" {_TENS[tens]} {by_value[rest]} "
    return f" {number_words(value) if value < 1_000_000 else match.group(1)} th "


def spoken(text: str) -> str:
    """Lower-case words as they are said: digits spelled out, units expanded, punctuation removed.
    "Sertraline 50mg, 1-0-1." -> "sertraline fifty milligrams one zero one"."""
    text = text.lower().replace("’", "'")
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)
    text = re.sub(r"\b([ap])\.m\.", r"\1m", text)
    text = re.sub(r"\b(\d+)(?:st|nd|rd|th)\b", _ordinal_words, text)
    text = re.sub(r"(\d+)(?:\.(\d+))?", _digits_to_words, text)
    text = text.replace("%", " percent ")
    text = re.sub(r"[^a-z' ]+", " ", text)
    words = []
    for word in text.split():
        word = word.strip("'")
        if word:
            words.append(_ABBREVIATIONS.get(word, word))
    return " ".join(words)


def _parse_number(tokens: list[str], i: int) -> tuple[str, int] | None:
    """A number said in words starting at tokens[i]: (its digits, index after it), or None."""
    total, current, last, j = 0, 0, None, i
    while j < len(tokens):
        tok = tokens[j]
        value = _WORD_VALUE.get(tok)
        if value is not None and value < 10:
            if last not in (None, "tens", "hundred", "thousand"):
                break
            current += value
            last = "unit"
        elif value is not None and value < 20:
            if last not in (None, "hundred", "thousand"):
                break
            current += value
            last = "teen"
        elif value is not None:
            if last not in (None, "hundred", "thousand"):
                break
            current += value
            last = "tens"
        elif tok == "hundred" and last in ("unit", "teen") and current % 100 < 20 and current < 100:
            current *= 100
            last = "hundred"
        elif tok == "thousand" and last in ("unit", "teen", "tens", "hundred") and total == 0:
            total, current, last = current * 1000, 0, "thousand"
        elif tok == "and" and last in ("hundred", "thousand") and j + 1 < len(tokens) \
                and tokens[j + 1] in _WORD_VALUE:
            pass
        else:
            break
        j += 1
    if last is None:
        return None
    digits = str(total + current)
    # "two point five" -> "2.5"
    if j + 1 < len(tokens) and tokens[j] == "point" and _WORD_VALUE.get(tokens[j + 1], 99) < 10:
        decimals = ""
        j += 1
        while j < len(tokens) and _WORD_VALUE.get(tokens[j], 99) < 10:
            decimals += str(_WORD_VALUE[tokens[j]])
            j += 1
        digits += "." + decimals
    return digits, j


def _expand(token: str) -> str:
    if token in _CONTRACTIONS:
        return _CONTRACTIONS[token]
    for ending in ("n't", "'re", "'ve", "'ll", "'d"):
        if token.endswith(ending) and len(token) > len(ending):
            return token[: -len(ending)] + _CONTRACTIONS[ending]
    return token


def comparable(text: str) -> str:
    """The form transcripts are compared in: lower case, no punctuation, numbers as digits, units spelled
    out. "Twenty-five mg of Sertraline." and "25 milligrams of sertraline" give the same string."""
    text = text.lower().replace("’", "'")
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)
    text = re.sub(r"\b([ap])\.m\.", r"\1m", text)
    text = re.sub(r"(\d)(?!st\b|nd\b|rd\b|th\b)([a-z%])", r"\1 \2", text)  # "50mg" -> "50 mg", not "21st"
    text = text.replace("%", " percent ")
    text = re.sub(r"(?<!\d)\.|\.(?!\d)", " ", text)  # keep decimal points only
    text = re.sub(r"[^a-z0-9.' ]+", " ", text)
    tokens = [_ABBREVIATIONS.get(t.strip("'"), t.strip("'")) for t in map(_expand, text.split())]
    tokens = [t for t in " ".join(tokens).split() if t]
    out: list[str] = []
    i = 0
    while i < len(tokens):
        if tokens[i] in _ORDINALS:
            out.append(f"{_ORDINALS[tokens[i]]}th")
            i += 1
            continue
        match = re.fullmatch(r"(\d+)(st|nd|rd|th)", tokens[i])
        if match:
            out.append(f"{match.group(1)}th")
            i += 1
            continue
        parsed = _parse_number(tokens, i)
        if parsed:
            digits, i = parsed
            # "twenty first" -> "21th", as "21st" gives
            if i < len(tokens) and digits.isdigit() and int(digits) % 100 >= 20 and int(digits) % 10 == 0 \
                    and _ORDINALS.get(tokens[i], 10) < 10:
                out.append(f"{int(digits) + _ORDINALS[tokens[i]]}th")
                i += 1
            else:
                out.append(digits)
            continue
        out.append(tokens[i])
        i += 1
    return " ".join(out)
