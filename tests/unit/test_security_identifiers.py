"""Hostile input against the identifier rules (hypothesis): whatever comes in, the answer is a
normalised value or InvalidIdentifier — never another exception, never a half-valid value — and
masks never reveal more than they should."""
from __future__ import annotations

import string

from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from canceldesk.adapters.logredact import redact
from canceldesk.domain.identifiers import (DOCUMENT_TYPES, InvalidIdentifier, id_last6, mask_id, mask_msisdn, mask_name,
                                           normalize_msisdn, validate_document)

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SQL = ["' OR '1'='1", "'; DROP TABLE lines; --", "1; SELECT pg_sleep(5)", "\\x00", "%00", "${jndi:ldap://x}"]
hostile_text = st.one_of(
    st.text(max_size=60),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=40),
    st.text(alphabet="0123456789０１２３４５６７８９+-() 　\t\n\x00\u200b\u202e", max_size=30),
    st.sampled_from(SQL),
    st.text(min_size=1000, max_size=3000),
    st.from_regex(r"\A(\+86|0086|86)?[ -]?1[3-9]\d[ -]?\d{4}[ -]?\d{4}\Z"),
)
PREFIXES = ["130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155", "156", "157",
            "158", "159", "166", "175", "176", "177", "178", "180", "181", "182", "183", "185", "186", "187", "188",
            "189", "198", "199"]
valid_msisdn = st.builds(lambda p, rest: p + rest, st.sampled_from(PREFIXES),
                         st.text(alphabet=string.digits, min_size=8, max_size=8))


def ric_check(body17: str) -> str:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return "10X98765432"[sum(int(d) * w for d, w in zip(body17, weights)) % 11]


valid_ric = st.builds(lambda area, y, m, d, seq: f"{area}{y:04d}{m:02d}{d:02d}{seq:03d}",
                      st.sampled_from(["110105", "110101", "110108"]), st.integers(1950, 2008),
                      st.integers(1, 12), st.integers(1, 28), st.integers(0, 999)).map(lambda b: b + ric_check(b))


@FAST
@given(hostile_text)
@example("１３８００１３８０００")
@example("+86 138-0013-8000\x00")
def test_normalize_msisdn_returns_eleven_ascii_digits_or_refuses(value):
    try:
        out = normalize_msisdn(value)
    except InvalidIdentifier as exc:
        assert exc.field == "msisdn" and exc.message and len(exc.message) < 200
        return
    assert len(out) == 11 and out.isascii() and out.isdigit() and out.startswith("1")
    assert normalize_msisdn(out) == out


@FAST
@given(valid_msisdn, st.sampled_from(["{}", "+86{}", "0086 {}", "+86 {a} {b} {c}", "{a}-{b}-{c}", "fw"]))
def test_every_way_of_writing_a_valid_number_means_that_number(n, fmt):
    try:
        normalize_msisdn(n)
    except InvalidIdentifier:
        assume(False)  # an unallocated range inside a prefix
    a, b, c = n[:3], n[3:7], n[7:]
    typed = "".join(chr(ord(d) + 0xFEE0) for d in n) if fmt == "fw" else fmt.format(n, a=a, b=b, c=c)
    assert normalize_msisdn(typed) == n


@FAST
@given(st.one_of(st.sampled_from(sorted(DOCUMENT_TYPES)), hostile_text), hostile_text)
def test_validate_document_returns_a_clean_number_or_refuses(doc_type, number):
    try:
        out = validate_document(doc_type, number)
    except InvalidIdentifier as exc:
        assert exc.field.startswith("id_document") and exc.message
        return
    assert out.isascii() and out.isalnum() and out == out.upper() and len(out) <= 20 or len(out) == 18


@FAST
@given(valid_ric)
def test_a_valid_resident_id_passes_and_any_single_changed_character_fails(number):
    assert validate_document("cn_ric", number) == number
    for i in range(18):
        for repl in "0123456789X":
            if repl == number[i] or (i < 17 and repl == "X"):
                continue
            changed = number[:i] + repl + number[i + 1:]
            try:
                validate_document("cn_ric", changed)
            except InvalidIdentifier:
                continue
            raise AssertionError(f"{changed} passed the checksum")


@FAST
@given(valid_msisdn)
def test_a_masked_number_shows_only_its_first_three_and_last_four_digits(n):
    m = mask_msisdn(n)
    assert m == n[:3] + "****" + n[-4:] and n[3:7] not in m[3:7]


@FAST
@given(valid_ric)
def test_a_masked_id_hides_the_date_of_birth(number):
    m = mask_id(number)
    assert m == number[:3] + "************" + number[-3:]
    assert number[6:14] not in m


@FAST
@given(hostile_text)
def test_masks_and_id_last6_never_raise_and_never_grow(value):
    for f in (mask_msisdn, mask_id, mask_name):
        out = f(value)
        assert isinstance(out, str) and len(out) <= max(len(value), 11) + 1
    assert len(id_last6(value)) <= 6 or len(value) > 6


@FAST
@given(st.text(max_size=40), valid_msisdn, valid_ric, st.text(max_size=40))
def test_the_log_redactor_removes_numbers_wherever_they_hide(before, n, ric, after):
    text = f"{before} {n} {after} {ric}."
    out = redact(text)
    assert n not in out and ric not in out and ric[6:14] not in out.replace(before, "").replace(after, "")


@FAST
@given(st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", min_size=1, max_size=40))
def test_a_masked_document_shows_at_most_a_third_of_it_whatever_its_length(number):
    """Issue 8: a 9-character passport was shown in full (its last 6 are an online second factor)."""
    m = mask_id(number)
    assert len(m) == len(number)
    shown = sum(1 for a, b in zip(m, number) if a == b and a != "*")
    assert shown <= len(number) // 3


def test_short_documents_are_masked_to_a_third():
    assert mask_id("E12345678") == "E1******8"
    assert mask_id("AB123") == "A****"
    assert mask_id("11010519491231002X") == "110************02X"
