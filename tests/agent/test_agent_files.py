"""File tools and path safety: reading, writing, editing, listing, grepping, and refusing escapes."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from shipyard.agent import ToolResult, files
from shipyard.agent.files import EditFile, Grep, ListDir, ReadFile, WriteFile


def run(tool: Any, **args: Any) -> ToolResult:
    result: ToolResult = asyncio.run(tool.run(args))
    return result


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "repo/src").mkdir(parents=True)
    (tmp_path / "repo/.git").mkdir()
    (tmp_path / "repo/.git/config").write_text("[core]\n")
    (tmp_path / "outside.txt").write_text("secret\n")
    return tmp_path / "repo"


def test_read_file_numbers_lines_and_pages(root: Path) -> None:
    (root / "a.txt").write_text("".join(f"line {i}\n" for i in range(1, 11)))
    first = run(ReadFile(root), path="a.txt", limit=3)
    assert first.text.splitlines() == [
        "`a.txt` lines 1-3 of 10",
        "     1\tline 1",
        "     2\tline 2",
        "     3\tline 3",
        "[more: call read_file with offset=4]",
    ]
    last = run(ReadFile(root), path="a.txt", offset=9)
    assert last.text.splitlines()[0] == "`a.txt` lines 9-10 of 10"
    assert last.text.endswith("    10\tline 10")
    assert "nothing at offset 20" in run(ReadFile(root), path="a.txt", offset=20).text


def test_read_file_refuses_binary_missing_and_huge_files(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (root / "img.png").write_bytes(b"\x89PNG\0\0\0")
    assert (
        run(ReadFile(root), path="img.png").text
        == "error: `img.png` looks binary (7 bytes); only text files can be read"
    )
    assert run(ReadFile(root), path="nope.txt").text == "error: `nope.txt` does not exist"
    assert run(ReadFile(root), path="src").text == "error: `src` is not a file"
    monkeypatch.setattr(files, "MAX_FILE_BYTES", 10)
    (root / "big.txt").write_text("x" * 11)
    result = run(ReadFile(root), path="big.txt")
    assert result.is_error and "too large" in result.text


def test_read_file_shows_non_utf8_with_a_note(root: Path) -> None:
    (root / "latin.txt").write_bytes("café\n".encode("latin-1"))
    result = run(ReadFile(root), path="latin.txt")
    assert not result.is_error
    assert "not valid UTF-8" in result.text and "caf\ufffd" in result.text


def test_read_file_cuts_long_lines(root: Path) -> None:
    (root / "min.js").write_text("x" * 5000)
    result = run(ReadFile(root), path="min.js")
    assert "[line cut]" in result.text and len(result.text) < 2200


def test_write_file_creates_parents(root: Path) -> None:
    result = run(WriteFile(root), path="new/deep/mod.py", content="a = 1\nb = 2\n")
    assert result.text == "wrote `new/deep/mod.py` (2 lines, 12 bytes)"
    assert (root / "new/deep/mod.py").read_text() == "a = 1\nb = 2\n"
    assert run(WriteFile(root), path="src", content="x").text == "error: `src` is a folder"


def test_edit_file_needs_exactly_one_match(root: Path) -> None:
    (root / "m.py").write_text("x = 1\nx = 1\ny = 2\n")
    none = run(EditFile(root), path="m.py", old="z = 3", new="z = 4")
    assert none.is_error and "(0 matches)" in none.text
    two = run(EditFile(root), path="m.py", old="x = 1", new="x = 5")
    assert two.is_error and "matches 2 times" in two.text
    assert run(EditFile(root), path="m.py", old="", new="q").is_error
    assert run(EditFile(root), path="m.py", old="y = 2", new="y = 3").text == "edited `m.py`"
    assert (root / "m.py").read_text() == "x = 1\nx = 1\ny = 3\n"


def test_list_dir_hides_git(root: Path) -> None:
    (root / "README.md").write_text("hi")
    assert run(ListDir(root)).text == "`.`:\nREADME.md\nsrc/"
    assert run(ListDir(root), path="src").text == "`src` is empty"
    assert run(ListDir(root), path="README.md").is_error


def test_grep_finds_matches_and_skips_git_and_binary(root: Path) -> None:
    (root / "src/a.py").write_text("def run():\n    return 1\n")
    (root / "src/b.bin").write_bytes(b"def run\0")
    (root / ".git/HEAD").write_text("def run\n")
    assert run(Grep(root), pattern=r"def \w+").text == "src/a.py:1: def run():"
    assert run(Grep(root), pattern="return", path="src/a.py").text == "src/a.py:2:     return 1"
    assert run(Grep(root), pattern="zzz").text == "no matches for `zzz` in `.`"
    bad = run(Grep(root), pattern="(")
    assert bad.is_error and "invalid regular expression" in bad.text


def test_grep_caps_results(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "MAX_GREP_MATCHES", 5)
    (root / "many.txt").write_text("hit\n" * 50)
    lines = run(Grep(root), pattern="hit").text.splitlines()
    assert len(lines) == 6 and "capped at 5 matches" in lines[-1]


def test_grep_skips_symlinks_out_of_the_worktree(root: Path) -> None:
    (root / "link.txt").symlink_to(root.parent / "outside.txt")
    assert run(Grep(root), pattern="secret").text == "no matches for `secret` in `.`"


@pytest.mark.parametrize("path", ["../outside.txt", "src/../../outside.txt", "/etc/passwd", ".git/config"])
def test_paths_outside_the_worktree_are_refused(root: Path, path: str) -> None:
    for tool, args in [
        (ReadFile(root), {}),
        (WriteFile(root), {"content": "x"}),
        (EditFile(root), {"old": "a", "new": "b"}),
        (ListDir(root), {}),
        (Grep(root), {"pattern": "x"}),
    ]:
        result = run(tool, path=path, **args)
        assert result.is_error and result.text == f"error: path `{path}` is outside the worktree"
    assert (root.parent / "outside.txt").read_text() == "secret\n"


def test_symlinks_pointing_out_are_refused(root: Path) -> None:
    (root / "link.txt").symlink_to(root.parent / "outside.txt")
    (root / "linkdir").symlink_to(root.parent)
    assert run(ReadFile(root), path="link.txt").text == "error: path `link.txt` is outside the worktree"
    write = run(WriteFile(root), path="linkdir/evil.txt", content="x")
    assert write.is_error and not (root.parent / "evil.txt").exists()


def test_absolute_paths_inside_the_worktree_are_allowed(root: Path) -> None:
    (root / "a.txt").write_text("hello\n")
    assert run(ReadFile(root), path=str(root / "a.txt")).text.endswith("     1\thello")


def test_files_with_other_hard_links_are_refused(root: Path) -> None:
    outside = root.parent / "outside.txt"
    (root / "link.txt").hardlink_to(outside)  # as if a hard link to a file outside had been made
    for tool, args in [
        (ReadFile(root), {}),
        (WriteFile(root), {"content": "pwned"}),
        (EditFile(root), {"old": "secret", "new": "pwned"}),
    ]:
        result = run(tool, path="link.txt", **args)
        assert result.text == "error: `link.txt` has 2 hard links; the file tools only touch files with one"
    assert run(Grep(root), pattern="secret").text == "no matches for `secret` in `.`"
    assert outside.read_text() == "secret\n"


def test_writes_replace_the_file_and_keep_its_mode(root: Path) -> None:
    script = root / "run.sh"
    script.write_text("echo old\n")
    script.chmod(0o755)
    assert run(EditFile(root), path="run.sh", old="old", new="new").text == "edited `run.sh`"
    assert script.read_text() == "echo new\n" and script.stat().st_mode & 0o777 == 0o755
    assert sorted(p.name for p in root.iterdir()) == [".git", "run.sh", "src"]  # no temporary file left


def test_a_symlink_inside_the_worktree_is_written_through_to_its_target(root: Path) -> None:
    (root / "real.txt").write_text("a\n")
    (root / "alias.txt").symlink_to(root / "real.txt")
    assert run(WriteFile(root), path="alias.txt", content="b\n").text == "wrote `real.txt` (1 lines, 2 bytes)"
    assert (root / "real.txt").read_text() == "b\n" and (root / "alias.txt").is_symlink()


@pytest.mark.parametrize("path", [".shipyard/board.sqlite", "src/../.shipyard"])
def test_the_state_folder_is_off_limits(root: Path, path: str) -> None:
    (root / ".shipyard").mkdir()
    (root / ".shipyard/board.sqlite").write_text("board")
    assert run(ReadFile(root), path=path).text == f"error: path `{path}` is outside the worktree"
    assert ".shipyard" not in run(ListDir(root)).text


def test_bad_paths_and_oversized_content_are_errors(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "not a valid path" in run(ReadFile(root), path="a\0b").text
    assert "not a valid path" in run(ReadFile(root), path="a" * 5000).text
    monkeypatch.setattr(files, "MAX_FILE_BYTES", 10)
    result = run(WriteFile(root), path="big.txt", content="x" * 11)
    assert result.text == "error: `big.txt` would be 11 bytes, over the 10-byte limit"
    assert not (root / "big.txt").exists()
