"""Identifiers: mobile numbers by the real numbering plan, resident IDs by ISO 7064 MOD 11-2, masks."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from canceldesk.domain.identifiers import (InvalidIdentifier, mask_id, mask_msisdn, normalize_msisdn,
                                           validate_document, validate_resident_id, validate_uscc)

PERSON_ID = "11010519491231002X"  # DOMAIN.md's own example


# ---------------------------------------------------------------- mobile numbers

@pytest.mark.parametrize("typed", [
    "13800138000",
    "+8613800138000",
    "+86 138 0013 8000",
    "0086 138 0013 8000",
    "008613800138000",
    "138-0013-8000",
    "+86-138-0013-8000",
    " 138 0013 8000 ",
    "１３８００１３８０００",          # full-width digits, as typed on a Chinese IME
    "＋８６　１３８－００１３－８０００",  # full-width plus, ideographic space, full-width dashes
])
def test_a_mobile_number_is_accepted_however_it_is_typed(typed):
    assert normalize_msisdn(typed) == "13800138000"


@pytest.mark.parametrize("number", ["13912345678", "15012345678", "18612345678", "19912345678", "17712345678"])
def test_allocated_mobile_ranges_are_accepted(number):
    assert normalize_msisdn(number) == number


@pytest.mark.parametrize(("typed", "why"), [
    ("12345678901", "starts with 1 and has 11 digits, but 123 is not an allocated mobile range"),
    ("10012345678", "10x is not a mobile range"),
    ("11012345678", "11x is not a mobile range"),
    ("01012345678", "a Beijing landline"),
    ("010-6552 9988", "a Beijing landline with separators"),
    ("0571-8888 8888", "a Hangzhou landline whose national number has 11 digits"),
    ("+86 10 6552 9988", "a landline in international form"),
    ("1380013800", "too short"),
    ("138001380", "too short"),
    ("138", "too short"),
    ("138001380001", "too long"),
    ("+1 650 253 0000", "not a mainland number"),
    ("+852 9123 4567", "Hong Kong is not served"),
    ("138OO138000", "letters O for zeros"),
    ("", "empty"),
    ("   ", "blank"),
])
def test_numbers_outside_the_mainland_mobile_plan_are_refused_with_a_reason(typed, why):
    with pytest.raises(InvalidIdentifier) as err:
        normalize_msisdn(typed, field="msisdn")
    assert err.value.field == "msisdn"
    assert err.value.message, why


@pytest.mark.parametrize("value", [None, 13800138000, b"13800138000", ["13800138000"]])
def test_a_mobile_number_must_be_text(value):
    with pytest.raises(InvalidIdentifier):
        normalize_msisdn(value)


# ---------------------------------------------------------------- resident ID (GB 11643-1999)

def mod11_2_check(first17: str) -> str:
    """The check character written out from DOMAIN.md, independent of the implementation."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return "10X98765432"[sum(int(c) * w for c, w in zip(first17, weights)) % 11]


def test_the_domain_md_example_is_a_valid_resident_id():
    assert mod11_2_check(PERSON_ID[:17]) == "X"
    assert validate_resident_id(PERSON_ID) == PERSON_ID


def test_a_lower_case_or_full_width_x_is_read_as_the_same_id():
    assert validate_resident_id("11010519491231002x") == PERSON_ID
    assert validate_resident_id("１１０１０５１９４９１２３１００２Ｘ") == PERSON_ID


@pytest.mark.parametrize("wrong", [c for c in "0123456789" if c != "X"])
def test_changing_the_check_character_makes_the_id_invalid(wrong):
    with pytest.raises(InvalidIdentifier) as err:
        validate_resident_id(PERSON_ID[:17] + wrong, field="id_document.number")
    assert err.value.field == "id_document.number"


@pytest.mark.parametrize("first17", ["11010519900307123", "44030419851231002", "31011519930307123", "51010720000229002"])
def test_ids_whose_check_character_follows_mod_11_2_are_valid(first17):
    number = first17 + mod11_2_check(first17)
    assert validate_resident_id(number) == number


@pytest.mark.parametrize("bad", [
    "11010519491231002",        # 17 characters
    "11010519491231002XX",      # 19 characters
    "11010519491331002X",       # month 13
    "1101051949123100AX",       # a letter in the digits
    "",
])
def test_malformed_resident_ids_are_refused(bad):
    with pytest.raises(InvalidIdentifier):
        validate_resident_id(bad)


def test_an_impossible_birth_date_is_refused_even_with_a_correct_check_character():
    first17 = "11010519490230002"  # 30 February
    with pytest.raises(InvalidIdentifier):
        validate_resident_id(first17 + mod11_2_check(first17))


# ---------------------------------------------------------------- unified social credit code

def test_a_valid_unified_social_credit_code_is_accepted():
    assert validate_uscc("91110000600037341L") == "91110000600037341L"
    assert validate_uscc("91110000600037341l") == "91110000600037341L"


@pytest.mark.parametrize("bad", ["91110000600037341M", "9111000060003734", "91110000600037341LL", "ABCDEFGHIJKLMNOPQR", ""])
def test_invalid_unified_social_credit_codes_are_refused(bad):
    with pytest.raises(InvalidIdentifier):
        validate_uscc(bad)


def test_documents_are_validated_by_their_type():
    assert validate_document("cn_ric", PERSON_ID) == PERSON_ID
    assert validate_document("cn_uscc", "91110000600037341L") == "91110000600037341L"
    assert validate_document("passport", "e 1234 5678") == "E12345678"
    with pytest.raises(InvalidIdentifier) as err:
        validate_document("driving_licence", "X")
    assert err.value.field == "id_document.type"
    with pytest.raises(InvalidIdentifier) as err:
        validate_document("cn_ric", PERSON_ID[:17] + "1")
    assert err.value.field == "id_document.number"


# ---------------------------------------------------------------- masks (screens and logs)

def test_masks_match_domain_md():
    assert mask_id("11010519491231002X") == "110************02X"
    assert mask_msisdn("13800138000") == "138****8000"


def test_masks_never_reveal_the_middle_and_cope_with_missing_values():
    assert "19491231" not in mask_id(PERSON_ID)
    assert "0013" not in mask_msisdn("13800138000")
    assert mask_id(None) == mask_id("") == ""
    assert mask_msisdn(None) == mask_msisdn("") == ""
    assert mask_id("E1234") == "E****"
    assert mask_msisdn("1234") == "****"


# ---------------------------------------------------------------- robustness

@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=40), st.from_regex(r"[+０-９0-9 \-()（）]{0,20}", fullmatch=True)))
def test_arbitrary_text_never_raises_anything_but_invalid_identifier(text):
    for check in (normalize_msisdn, validate_resident_id, validate_uscc):
        try:
            out = check(text)
        except InvalidIdentifier as exc:
            assert exc.message and exc.field
        else:
            assert isinstance(out, str) and out.isascii()


@settings(max_examples=100, deadline=None)
@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_a_number_accepted_once_is_accepted_in_every_written_form(number):
    try:
        national = normalize_msisdn(number)
    except InvalidIdentifier:
        return  # unallocated range: nothing more to check
    assert national == number and len(national) == 11
    full_width = number.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    for form in (f"+86{number}", f"0086 {number}", f"{number[:3]}-{number[3:7]}-{number[7:]}", full_width):
        assert normalize_msisdn(form) == number
    assert mask_msisdn(national) == number[:3] + "****" + number[-4:]
