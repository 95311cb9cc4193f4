"""latex_to_unicode: readable titles where the LaTeX is understood, the source kept where it is not."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digest.latex import latex_to_unicode
from digest.records import PaperRecord

CASES = [
    # math spans: converted whole
    (r"Bidirectional $\leftrightarrow$ Translation", "Bidirectional ↔ Translation"),
    (r"$\alpha$-divergence Variational Inference", "α-divergence Variational Inference"),
    (r"Sorting in $O(n^2)$ Time", "Sorting in O(n²) Time"),
    (r"Sorting in $O(n \log n)$ and $O(n\log n)$", "Sorting in O(n log n) and O(n log n)"),
    (r"Superfluid $^{3}$He Films", "Superfluid ³He Films"),
    (r"Embeddings in $\mathbb{R}^n$", "Embeddings in ℝⁿ"),
    (r"Bounds $x \leq y$, $a\times b$, $n \to \infty$, $X \sim P$, $\pm 1$", "Bounds x ≤ y, a×b, n → ∞, X ∼ P, ±1"),
    (r"Rates of $10^{-3}$ and $x_1$ and $x_{12}$", "Rates of 10⁻³ and x₁ and x₁₂"),
    (r"A $\tilde{O}(\sqrt{d})$ Regret Bound at $90^\circ$", "A Õ(√d) Regret Bound at 90°"),
    (r"$\epsilon$-greedy and $\text{Tr}(A)$ and $\mathrm{d}x$", "ε-greedy and Tr(A) and dx"),
    (r"On $\{0,1\}^n$ and $[0,1]$", "On {0,1}ⁿ and [0,1]"),
    (r"$k$-NN in $3$D", "k-NN in 3D"),
    # accents and text macros
    (r'K\"{a}hler Manifolds', "Kähler Manifolds"),
    (r'The Schr\"odinger Equation', "The Schrödinger Equation"),
    (r"Poincar\'{e} and Poincar\'e", "Poincaré and Poincaré"),
    (r"Gar\c{c}on and Gar\c con", "Garçon and Garçon"),
    (r'Erd\H{o}s, \v{S}ilhav\'y, na\"{\i}ve, Stra\ss e, \AA ngstr\"om', "Erdős, Šilhavý, naïve, Straße, Ångström"),
    (r"\emph{Attention} is \textbf{All} \textit{You} \textbf{\emph{Need}}", "Attention is All You Need"),
    (r"Pages 1--10 --- Mostly", "Pages 1–10 — Mostly"),
    (r"R\&D at 50\% for \$5: a\_b \#1", "R&D at 50% for $5: a_b #1"),
    (r"{BERT}: Pre-training of Deep {T}ransformers", "BERT: Pre-training of Deep Transformers"),
    ("Attention Is All\n  You   Need", "Attention Is All You Need"),
    # plain titles: unchanged
    ("Deep Residual Learning for Image Recognition", "Deep Residual Learning for Image Recognition"),
    ("State-of-the-art: 100% and ~5x faster (a^b, c_d)", "State-of-the-art: 100% and ~5x faster (a^b, c_d)"),
    # dollars that are not math
    ("Training for US$5", "Training for US$5"),
    ("From US$5 to US$10 per Model", "From US$5 to US$10 per Model"),
    ("A $ 5 bet and $x $", "A $ 5 bet and $x $"),
    ("Display math $$x$$ is left alone", "Display math $$x$$ is left alone"),
    # not understood: exactly as written, and never half a math span
    (r"Learning $\foo{x}$ Fast", r"Learning $\foo{x}$ Fast"),
    (r"Both $\alpha$ and $\foo$", r"Both α and $\foo$"),
    (r"Spaces $\mathbb{R}^{n\times n}$", r"Spaces $\mathbb{R}^{n\times n}$"),
    (r"Big-O $\mathcal{O}(1)$ and $\sqrt[3]{x}$", r"Big-O $\mathcal{O}(1)$ and $\sqrt[3]{x}$"),
    (r"Cite \cite{x} and \foo[a]{b}{c} here", r"Cite \cite{x} and \foo[a]{b}{c} here"),
    (r"Empty \'{} and wide \"{ab} accents", r"Empty \'{} and wide \"{ab} accents"),
    (r"\emph{\unknown{x}} kept", r"\unknown{x} kept"),
    ("Unbalanced {braces and} more}", "Unbalanced braces and more}"),
    ("Trailing backslash \\", "Trailing backslash \\"),
]


@pytest.mark.parametrize(("source", "expected"), CASES, ids=[c[0][:40] for c in CASES])
def test_latex_to_unicode(source: str, expected: str) -> None:
    assert latex_to_unicode(source) == expected


def test_the_case_table_is_large_enough() -> None:
    assert len(CASES) >= 25


ascii_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=200)
latexish = st.lists(st.sampled_from([*"ab1 $\\{}^_-'\"`~&%c", "\\alpha", "\\emph", "\\foo", "\\c", "\\mathbb"]), max_size=60).map("".join)


@given(st.one_of(ascii_text, latexish, st.text(max_size=100)))
def test_never_more_dollars_than_the_input(text: str) -> None:
    assert latex_to_unicode(text).count("$") <= text.count("$")


@given(st.text(alphabet=st.characters(min_codepoint=9, max_codepoint=126, exclude_characters="\\${}-\x0b\x0c"), max_size=200))
def test_plain_ascii_is_unchanged_but_for_whitespace(text: str) -> None:
    assert latex_to_unicode(text) == " ".join(text.split())


@pytest.mark.parametrize("hostile", ["{" * 50_000, "$a " * 50_000, "\\a[" * 30_000, "\\'" * 50_000, "$x^{" * 30_000, "{" * 30_000 + "}" * 30_000])
def test_linear_time_on_hostile_input(hostile: str) -> None:
    started = time.perf_counter()
    latex_to_unicode(hostile)
    assert time.perf_counter() - started < 2.0


def test_deep_nesting_is_left_as_written() -> None:
    deep = "{" * 80 + "x" + "}" * 80
    assert latex_to_unicode(deep).count("x") == 1  # no RecursionError; the deep part stays as written
    assert latex_to_unicode("$" + "{" * 80 + "x" + "}" * 80 + "$") == "$" + "{" * 80 + "x" + "}" * 80 + "$"


def test_record_clean_title_and_abstract() -> None:
    record = PaperRecord(
        id="2101.00001", version=1, title="Learning in $\\mathbb{R}^n$:\n  K\\\"ahler {BERT}",
        authors=["A. Author"], published="2021-01-01", updated="2021-01-01", primary_category="cs.LG",
        abstract="We show $O(n^2)$\n bounds, US$5 and \\foo{x}.",
    )
    assert record.clean_title == "Learning in ℝⁿ: Kähler BERT"
    assert record.clean_abstract == "We show O(n²) bounds, US$5 and \\foo{x}."
