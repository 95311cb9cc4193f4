"""digest.ids: every form an editor pastes, every string refused, and idempotence."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from digest.errors import InvalidArxivId
from digest.ids import OLD_ARCHIVES, base_id, normalize_id, split_version

ACCEPTED = [
    ("2202.06991", "2202.06991"),
    ("2202.06991v2", "2202.06991v2"),
    ("arXiv:2202.06991", "2202.06991"),
    ("ARXIV:2202.06991v3", "2202.06991v3"),
    ("arxiv: 2202.06991", "2202.06991"),
    ("https://arxiv.org/abs/2202.06991v1", "2202.06991v1"),
    ("http://arxiv.org/pdf/2202.06991", "2202.06991"),
    ("https://arxiv.org/pdf/2202.06991v2.pdf", "2202.06991v2"),
    ("https://arxiv.org/html/2202.06991v2", "2202.06991v2"),
    ("https://arxiv.org/html/2202.06991v2/#S3", "2202.06991v2"),
    ("http://export.arxiv.org/abs/2202.06991", "2202.06991"),
    ("https://www.arxiv.org/abs/2202.06991", "2202.06991"),
    ("arxiv.org/abs/2202.06991", "2202.06991"),
    ("www.arxiv.org/pdf/2202.06991v2", "2202.06991v2"),
    ("export.arxiv.org/abs/2202.06991v4", "2202.06991v4"),
    ("HTTPS://ArXiv.org/ABS/2202.06991", "2202.06991"),
    ("https://arxiv.org/abs/2202.06991/", "2202.06991"),
    ("https://arxiv.org/abs/2202.06991?context=cs", "2202.06991"),
    ("https://arxiv.org/abs/2202.06991#comments", "2202.06991"),
    ("  2202.06991\n", "2202.06991"),
    ("\thttps://arxiv.org/abs/2202.06991v2 ", "2202.06991v2"),
    ("2301.00001", "2301.00001"),
    ("1501.00001v1", "1501.00001v1"),
    ("0704.0001", "0704.0001"),
    ("1412.9999", "1412.9999"),
    ("hep-th/9901001", "hep-th/9901001"),
    ("hep-th/9901001v1", "hep-th/9901001v1"),
    ("HEP-TH/9901001", "hep-th/9901001"),
    ("arXiv:hep-th/9711200v3", "hep-th/9711200v3"),
    ("math.GT/0309136", "math.GT/0309136"),
    ("math.gt/0309136v2", "math.GT/0309136v2"),
    ("cs.AI/0102001", "cs.AI/0102001"),
    ("physics/0004057", "physics/0004057"),
    ("https://arxiv.org/abs/physics/0004057v1", "physics/0004057v1"),
    ("https://arxiv.org/pdf/hep-th/9901001v1.pdf", "hep-th/9901001v1"),
    ("https://arxiv.org/abs/math.GT/0309136", "math.GT/0309136"),
    ("https://arxiv.org/abs/math.GT%2F0309136", "math.GT/0309136"),
    ("hep-th/9108001", "hep-th/9108001"),
    ("astro-ph/0703999", "astro-ph/0703999"),
]

REFUSED = [
    ("", "it is empty"),
    ("   ", "it is empty"),
    ("abc", "expected a form like 2202.06991 or hep-th/9901001"),
    ("2202", "expected a form like 2202.06991 or hep-th/9901001"),
    ("2202.06991v", "expected a form like 2202.06991 or hep-th/9901001"),
    ("2202 06991", "expected a form like 2202.06991 or hep-th/9901001"),
    ("arXiv:", "expected a form like 2202.06991 or hep-th/9901001"),
    ("2213.06991", "month 13 does not exist"),
    ("2200.06991", "month 00 does not exist"),
    ("0000.0000", "month 00 does not exist"),
    ("2202.069", "the number after the dot has 4 or 5 digits"),
    ("2202.069910", "the number after the dot has 4 or 5 digits"),
    ("0808.05394", "five-digit numbers are used from 1501 on"),
    ("1412.00001", "five-digit numbers are used from 1501 on"),
    ("0703.0001", "four-digit numbers were used from 0704 to 1412 only"),
    ("1501.0001", "four-digit numbers were used from 0704 to 1412 only"),
    ("2202.00000", "paper number 00000 does not exist"),
    ("2202.06991v0", "version v0 does not exist: versions count from v1"),
    ("hep-th/9901000", "paper number 000 does not exist"),
    ("hep-th/9913001", "month 13 does not exist"),
    ("hep-th/0801001", "old-style ids run from 1991 to March 2007 (0703)"),
    ("hep-th/9001001", "old-style ids run from 1991 to March 2007 (0703)"),
    ("foo-bar/9901001", "'foo-bar' is not an arXiv archive"),
    ("hep-th/990100", "expected a form like 2202.06991 or hep-th/9901001"),
    ("https://example.org/abs/2202.06991", "not an arxiv.org address"),
    ("https://arxiv.org.evil.example/abs/2202.06991", "not an arxiv.org address"),
    ("ftp://arxiv.org/abs/2202.06991", "not an arxiv.org address"),
    ("https://arxiv.org/list/cs.CL/recent", "expected an arxiv.org/abs/, /pdf/ or /html/ address of a paper"),
    ("https://arxiv.org/", "expected an arxiv.org/abs/, /pdf/ or /html/ address of a paper"),
    ("https://arxiv.org/abs/", "expected an arxiv.org/abs/, /pdf/ or /html/ address of a paper"),
    ("https://arxiv.org/abs/abc", "expected a form like 2202.06991 or hep-th/9901001"),
    ("http://[arxiv.org/abs/2202.06991", "not a readable address (Invalid IPv6 URL)"),
    ("２２０２.０６９９１", "expected a form like 2202.06991 or hep-th/9901001"),
]


@pytest.mark.parametrize(("text", "canonical"), ACCEPTED, ids=[t for t, _ in ACCEPTED])
def test_accepted_forms(text: str, canonical: str) -> None:
    assert normalize_id(text) == canonical
    assert normalize_id(canonical) == canonical


@pytest.mark.parametrize(("text", "reason"), REFUSED, ids=[repr(t) for t, _ in REFUSED])
def test_refused_strings(text: str, reason: str) -> None:
    with pytest.raises(InvalidArxivId) as caught:
        normalize_id(text)
    assert caught.value.reason == reason
    assert caught.value.text == text
    assert str(caught.value) == f"error: {text!r} is not an arXiv id: {reason}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2202.06991", ("2202.06991", None)),
        ("2202.06991v2", ("2202.06991", 2)),
        ("2202.06991v12", ("2202.06991", 12)),
        ("hep-th/9901001", ("hep-th/9901001", None)),
        ("hep-th/9901001v1", ("hep-th/9901001", 1)),
        ("solv-int/9901001v3", ("solv-int/9901001", 3)),  # an archive with a "v" in its name
        ("math.GT/0309136v2", ("math.GT/0309136", 2)),
    ],
)
def test_split_version(text: str, expected: tuple[str, int | None]) -> None:
    assert split_version(text) == expected


def test_base_id_normalizes_and_drops_version() -> None:
    assert base_id("https://arxiv.org/pdf/2202.06991v2.pdf") == "2202.06991"
    assert base_id("arXiv:HEP-TH/9901001v1") == "hep-th/9901001"
    with pytest.raises(InvalidArxivId):
        base_id("2213.06991")


# --- properties ---------------------------------------------------------------------------

versions = st.one_of(st.just(""), st.integers(1, 30).map(lambda v: f"v{v}"))
months = st.integers(1, 12)
new_ids = st.one_of(
    st.builds("{:02d}{:02d}.{:04d}{}".format, st.integers(7, 14), months, st.integers(1, 9999), versions)
    .filter(lambda s: "0704" <= s[:4] <= "1412"),
    st.builds("{:02d}{:02d}.{:05d}{}".format, st.integers(15, 99), months, st.integers(1, 99999), versions),
)
old_ids = st.builds(
    "{}{}/{}{:02d}{:03d}{}".format,
    st.sampled_from(sorted(OLD_ARCHIVES)),
    st.sampled_from(["", ".GT", ".AI", ".dg"]),
    st.sampled_from(["91", "95", "99", "00", "03", "06"]),
    months,
    st.integers(1, 999),
    versions,
).filter(lambda s: not re.search(r"/910[1-7]", s))  # arXiv opened in August 1991
valid_ids = st.one_of(new_ids, old_ids)
decorations = st.sampled_from([
    "{}", "  {}\n", "arXiv:{}", "arxiv:{}", "https://arxiv.org/abs/{}", "http://arxiv.org/abs/{}/",
    "https://arxiv.org/pdf/{}", "https://arxiv.org/pdf/{}.pdf", "https://arxiv.org/html/{}",
    "export.arxiv.org/abs/{}", "www.arxiv.org/abs/{}?fmt=txt", "https://ARXIV.org/abs/{}#x",
])


@given(valid_ids, decorations)
@example("hep-th/9901001v1", "https://arxiv.org/pdf/{}.pdf")
def test_normalization_is_idempotent_under_decoration(ident: str, decoration: str) -> None:
    canonical = normalize_id(ident)
    assert normalize_id(decoration.format(ident)) == canonical
    assert normalize_id(canonical) == canonical
    base, version = split_version(canonical)
    assert canonical == base + (f"v{version}" if version else "")
    assert base_id(decoration.format(ident)) == base


@given(st.text(max_size=40))
def test_any_text_normalizes_or_raises_invalid_arxiv_id(text: str) -> None:
    try:
        canonical = normalize_id(text)
    except InvalidArxivId as err:
        assert err.reason and "\n" not in err.reason
    else:
        assert normalize_id(canonical) == canonical
