"""Spoken form (for building language models) and comparable form (for scoring transcripts)."""

from __future__ import annotations

import pytest

from core.speech.textnorm import comparable, number_words, spoken


@pytest.mark.parametrize(("a", "b"), [
    ("Twenty-five mg of Sertraline.", "25 milligrams of sertraline"),
    ("one hundred and fifty milligrams", "150 mg"),
    ("two point five", "2.5"),
    ("I'm fine, I don't drink.", "I am fine I do not drink"),
    ("Take it at 8:30 p.m.", "take it at eight thirty pm"),
    ("on the twenty first", "on the 21st"),
    ("1,200 rupees", "one thousand two hundred rupees"),
    ("50mg", "fifty milligrams"),
])
def test_equal_when_said_alike(a, b):
    assert comparable(a) == comparable(b)


@pytest.mark.parametrize(("a", "b"), [
    ("fifteen milligrams", "fifty milligrams"),
    ("sertraline", "search for"),
    ("no thoughts of self harm", "thoughts of self harm"),
])
def test_different_when_said_differently(a, b):
    assert comparable(a) != comparable(b)


def test_spoken_form():
    assert spoken("Start sertraline 50mg, 1-0-1 for 2.5 weeks.") == \
        "start sertraline fifty milligrams one zero one for two point five weeks"
    assert spoken("Bipolar disorder, 2nd episode (severe)") == "bipolar disorder second episode severe"


@pytest.mark.parametrize(("n", "words"), [
    (0, "zero"), (13, "thirteen"), (40, "forty"), (75, "seventy five"), (100, "one hundred"),
    (2019, "two thousand nineteen"), (999_999, "nine hundred ninety nine thousand nine hundred ninety nine"),
])
def test_number_words(n, words):
    assert number_words(n) == words
    assert comparable(words) == str(n)
