"""The demo's sample project: a short spec, stub modules, and a test suite that fails on the stubs.

The suite uses only the standard library (`python -m unittest`), so the demo runs on a plain install.
"""

from __future__ import annotations

from pathlib import Path

MODULES = ("slug", "roman", "stats", "count", "wrap", "case")
DELEGATED = ("wrap", "case")

SPEC = """# textkit

A small text utility library. Implement every function in `textkit/` so that the test suite passes.

- `textkit/slug.py`: `slugify(text)`: lower case, runs of other characters become one `-`, no `-` at the ends.
- `textkit/roman.py`: `to_roman(n)` and `from_roman(s)` for 1..3999.
- `textkit/stats.py`: `mean(xs)` and `median(xs)` of a non-empty list of numbers.
- `textkit/count.py`: `word_count(text)`: a dict of lower-cased word to count.
- `textkit/wrap.py`: `wrap(text, width)`: greedy word wrap into lines of at most `width` characters.
- `textkit/case.py`: `snake_case(name)` and `camel_case(name)`.

Each change adds one line to `CHANGELOG.md`.
"""

STUBS = {
    "slug": ("slugify(text: str) -> str",),
    "roman": ("to_roman(n: int) -> str", "from_roman(s: str) -> int"),
    "stats": ("mean(xs: list[float]) -> float", "median(xs: list[float]) -> float"),
    "count": ("word_count(text: str) -> dict[str, int]",),
    "wrap": ("wrap(text: str, width: int) -> list[str]",),
    "case": ("snake_case(name: str) -> str", "camel_case(name: str) -> str"),
}

TESTS = {
    "slug": """import unittest

from textkit.slug import slugify


class TestSlug(unittest.TestCase):
    def test_slugify(self) -> None:
        assert slugify("Hello, World!") == "hello-world"
        assert slugify("  a  b ") == "a-b"
""",
    "roman": """import unittest

from textkit.roman import from_roman, to_roman


class TestRoman(unittest.TestCase):
    def test_roundtrip(self) -> None:
        assert to_roman(1994) == "MCMXCIV"
        assert all(from_roman(to_roman(n)) == n for n in range(1, 4000))
""",
    "stats": """import unittest

from textkit.stats import mean, median


class TestStats(unittest.TestCase):
    def test_stats(self) -> None:
        assert mean([1, 2, 3, 4]) == 2.5
        assert median([3, 1, 2]) == 2
        assert median([4, 1, 2, 3]) == 2.5
""",
    "count": """import unittest

from textkit.count import word_count


class TestCount(unittest.TestCase):
    def test_count(self) -> None:
        assert word_count("a b A c b a") == {"a": 3, "b": 2, "c": 1}
""",
    "wrap": """import unittest

from textkit.wrap import wrap


class TestWrap(unittest.TestCase):
    def test_wrap(self) -> None:
        assert wrap("the quick brown fox", 10) == ["the quick", "brown fox"]
        assert wrap("", 5) == []
""",
    "case": """import unittest

from textkit.case import camel_case, snake_case


class TestCase(unittest.TestCase):
    def test_case(self) -> None:
        assert snake_case("HelloWorld") == "hello_world"
        assert camel_case("hello_world") == "helloWorld"
""",
}

PYPROJECT = """[project]
name = "textkit"
version = "0.0.1"
"""

# The check: the standard library's test runner, found in any Python (no pytest needed).
CHECK_ARGS = ("-m", "unittest", "-q")


def _stub(signature: str) -> str:
    return f"def {signature}:\n    raise NotImplementedError\n"


def write_sample(root: Path) -> None:
    """Write the sample project's files into `root` (which must exist)."""
    files = {
        "SPEC.md": SPEC,
        "pyproject.toml": PYPROJECT,
        ".gitignore": "__pycache__/\n",
        "CHANGELOG.md": "# Changelog\n\n",
        "textkit/__init__.py": '"""textkit: small text utilities."""\n',
        "tests/__init__.py": "",
    }
    for mod, signatures in STUBS.items():
        files[f"textkit/{mod}.py"] = "\n\n".join(_stub(s) for s in signatures)
        files[f"tests/test_{mod}.py"] = TESTS[mod]
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
