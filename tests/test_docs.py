"""The README and docs/: every relative link leads to a file that exists, and every anchor to a heading.

A moved or renamed page, or a heading reworded, breaks a reader's path through the guide; this
finds it before a reader does. Links to the web are not fetched (tests stay offline).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [ROOT / "README.md", *DOCS]

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"(?<!!)\[(?:[^\]\n]|\\\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"<[^>]+>", "", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every anchor a page offers; a repeated heading gets -1, -2 ... as on GitHub."""
    seen: dict[str, int] = {}
    found: set[str] = set()
    for heading in _HEADING.findall(_FENCE.sub("", page.read_text(encoding="utf-8"))):
        base = slug(heading)
        n = seen.get(base, 0)
        found.add(base if n == 0 else f"{base}-{n}")
        seen[base] = n + 1
    return found


def links(page: Path) -> list[str]:
    """Relative link targets of a page, outside code blocks and code spans."""
    text = _CODE.sub("", _FENCE.sub("", page.read_text(encoding="utf-8")))
    return [t for t in _LINK.findall(text) if not re.match(r"^[a-z][a-z0-9+.-]*:", t)]


def broken(page: Path) -> list[str]:
    problems = []
    for target in links(page):
        path, _, anchor = target.partition("#")
        dest = (page.parent / unquote(path)).resolve() if path else page
        name = dest.relative_to(ROOT).as_posix() if dest.is_relative_to(ROOT) else str(dest)
        if not dest.exists():
            problems.append(f"{target}: {name} does not exist")
            continue
        if anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            problems.append(f"{target}: no heading gives #{anchor} in {name}")
    return problems


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_and_anchor_resolves(page):
    assert broken(page) == []


def test_every_page_in_docs_is_reachable_from_the_readme():
    linked = {(ROOT / unquote(t.partition("#")[0])).resolve() for t in links(ROOT / "README.md")}
    assert [p.name for p in DOCS if p.resolve() not in linked] == []


def test_the_readme_keeps_the_two_first_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make plan STACK=dev" in readme and "make test" in readme
    assert len(readme.splitlines()) < 200, "the README is the short guide; details go to docs/"


def test_a_broken_link_and_a_wrong_anchor_are_found(tmp_path):
    page = tmp_path / "a.md"
    (tmp_path / "b.md").write_text("# Title\n\n## The plan: `make plan`\n")
    page.write_text("[ok](b.md#the-plan-make-plan) [gone](c.md) [bad](b.md#nope) "
                    "`[code](x.md)` [web](https://example.com/x)\n\n```\n[fenced](y.md)\n```\n")
    found = broken(page)
    assert found == ["c.md: " + str(tmp_path / "c.md") + " does not exist",
                     "b.md#nope: no heading gives #nope in " + str(tmp_path / "b.md")]


@given(st.lists(st.sampled_from(["Make", "diff", "`x`", "(a)", ":", "2.", "the"]), min_size=1, max_size=6))
def test_slugs_are_lowercase_words_joined_by_hyphens(words):
    assert re.fullmatch(r"[a-z0-9_\-]*", slug(" ".join(words)))
