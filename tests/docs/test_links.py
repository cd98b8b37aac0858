"""Every relative link and image in README.md and docs/*.md leads somewhere: the file (or folder) exists, and an
`#anchor` names a heading of the page it points to, as the code host spells headings' anchors. Repository paths the
pages name as text (`src/rnnlab/…`, `conf/…`, `tests/…`) exist too, so a moved file shows up here."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

import pytest
from helpers import REPO_ROOT
from helpers.docs import PAGES, anchors, github_slug, links, relative

LINKS = [(page, line, target) for page in PAGES for line, target in links(page) if not urlsplit(target).scheme]
# A path from the repository root, not part of a URL, and not a pattern with a <placeholder> in it.
NAMED_PATH = re.compile(r"(?<![\w/.])((?:src/rnnlab|conf|tests|scripts|docs)/[\w./-]*)(?![\w<])")
NAMED = sorted(
    {(page, match.rstrip(".")) for page in PAGES for match in NAMED_PATH.findall(page.read_text())},
    key=lambda item: (str(item[0]), item[1]),
)


def test_every_page_is_reached_from_readme():
    # README links the book's index, and the index lists every page of the book.
    assert "docs/README.md" in {target.split("#")[0] for _, target in links(PAGES[0])}
    index = {target.split("#")[0] for _, target in links(REPO_ROOT / "docs" / "README.md")}
    missing = [page.name for page in PAGES[1:] if page.name != "README.md" and page.name not in index]
    assert not missing, f"docs/README.md does not list {missing}"


@pytest.mark.parametrize(
    ("page", "line", "target"), LINKS, ids=[f"{relative(page)}:{line}:{target}" for page, line, target in LINKS]
)
def test_link_resolves(page, line, target):
    path, _, anchor = unquote(target).partition("#")
    destination = (page.parent / path).resolve() if path else page
    assert destination.exists(), f"{relative(page)}:{line}: {target} → {destination} does not exist"
    if anchor:
        assert destination.suffix == ".md", f"{relative(page)}:{line}: #{anchor} into a file without headings"
        assert anchor in anchors(destination.read_text()), (
            f"{relative(page)}:{line}: {target}: no heading of {destination.name} has the anchor #{anchor}"
        )


@pytest.mark.parametrize(("page", "path"), NAMED, ids=[f"{relative(page)}:{path}" for page, path in NAMED])
def test_named_path_exists(page, path):
    assert (REPO_ROOT / path).exists(), f"{relative(page)} names {path}, which does not exist"


@pytest.mark.parametrize(
    ("heading", "slug"),
    [
        ("What happens when …", "what-happens-when-"),
        ("Long-range dependencies: `task=long_range`", "long-range-dependencies-tasklong_range"),
        ("Task recipes: what a task sets besides `task.*`", "task-recipes-what-a-task-sets-besides-task"),
        ("torch.compile", "torchcompile"),
    ],
)
def test_anchors_are_spelled_as_the_code_host_does(heading, slug):
    assert github_slug(heading) == slug
