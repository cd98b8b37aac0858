"""README.md and docs/*.md as a reader sees them: the pages, their fenced blocks, headings and the commands they
show (shared by test_links.py and test_commands.py)."""

from __future__ import annotations

import re
import shlex
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from helpers import REPO_ROOT

PAGES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
# Blocks whose lines are commands as typed: bash blocks hold only commands (and comments); console blocks hold
# `$ command` lines followed by what the command prints.
SHELL_LANGS = ("bash", "sh", "shell")
CONSOLE_LANGS = ("console",)
FENCE = re.compile(r"^(```+|~~~+)\s*([\w+-]*)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
# An expected failure, written as the comment right after the command: `# error: …` or `# hint: …`.
EXPECTATION = re.compile(r"^#\s*((?:error|hint):.*)$")


def relative(path: Path) -> str:
    return str(path.relative_to(REPO_ROOT))


@dataclass(frozen=True)
class Block:
    """A fenced code block: its language and its lines, numbered as in the page."""

    page: Path
    lang: str
    lines: tuple[tuple[int, str], ...]


@dataclass
class Command:
    """One command a reader can copy: continuation lines joined, with what the page says about it."""

    page: Path
    line: int
    text: str
    # The shell variables set by earlier lines of the same block (`NAME=value`, `export NAME=value`), and which
    # of them are exported to the commands' environment.
    variables: dict[str, str] = field(default_factory=dict)
    exported: tuple[str, ...] = ()
    # The comment right after it, `error: …` or `hint: …`: the command is shown failing with that message.
    expected: str | None = None
    # Console blocks: the lines the page shows it printing.
    output: list[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{relative(self.page)}:{self.line}"


def split_fences(text: str, page: Path) -> tuple[list[Block], list[tuple[int, str]]]:
    """The fenced blocks of a page, and its other lines (numbered from 1)."""
    blocks, prose = [], []
    fence, lang, lines = None, "", []
    for number, line in enumerate(text.splitlines(), start=1):
        match = FENCE.match(line)
        if fence is None and match:
            fence, lang, lines = match.group(1), match.group(2).lower(), []
        elif fence is not None and line.strip().startswith(fence[0] * len(fence)) and not line.strip().strip(fence[0]):
            blocks.append(Block(page, lang, tuple(lines)))
            fence = None
        elif fence is not None:
            lines.append((number, line))
        else:
            prose.append((number, line))
    return blocks, prose


def headings(text: str) -> list[str]:
    """The text of every ATX heading outside fenced blocks."""
    _, prose = split_fences(text, Path())
    return [match.group(2) for _, line in prose if (match := HEADING.match(line))]


def github_slug(heading: str) -> str:
    """The anchor a code host gives a heading: markup dropped, lower case, punctuation removed, spaces → '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = text.replace("`", "").replace("*", "").lower()
    kept = [ch for ch in text if ch in " -_" or unicodedata.category(ch)[0] in "LN"]
    return "".join(kept).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every heading's anchor; a repeated heading gets -1, -2, … as on the code host."""
    seen: dict[str, int] = {}
    result = set()
    for heading in headings(text):
        slug = github_slug(heading)
        count = seen.get(slug, 0)
        result.add(slug if count == 0 else f"{slug}-{count}")
        seen[slug] = count + 1
    return result


def _joined(lines: tuple[tuple[int, str], ...]) -> list[tuple[int, str]]:
    """Lines with a trailing backslash joined to the next one, as the shell reads them."""
    joined, start, parts = [], None, []
    for number, line in lines:
        start = number if start is None else start
        if line.rstrip().endswith("\\"):
            parts.append(line.rstrip()[:-1])
            continue
        parts.append(line)
        joined.append((start, " ".join(part.strip() for part in parts)))
        start, parts = None, []
    if parts:
        joined.append((start, " ".join(part.strip() for part in parts)))
    return joined


def _assignment(text: str) -> tuple[str, str, bool] | None:
    """`NAME=value` or `export NAME=value` alone on a line: (name, value, exported)."""
    words = shlex.split(text, comments=True)
    exported = bool(words) and words[0] == "export"
    words = words[1:] if exported else words
    if len(words) == 1 and re.fullmatch(r"[A-Za-z_]\w*=.*", words[0]):
        name, value = words[0].split("=", 1)
        return name, value, exported
    return None


def block_commands(block: Block) -> list[Command]:
    """The commands of a bash or console block, in order."""
    commands: list[Command] = []
    variables: dict[str, str] = {}
    exported: list[str] = []
    console = block.lang in CONSOLE_LANGS
    after_command = False  # the previous line was a command: a comment here may say how it fails
    for number, line in _joined(block.lines):
        stripped = line.strip()
        if console and not stripped.startswith("$ "):
            if commands:
                commands[-1].output.append(line)
            continue
        stripped = stripped.removeprefix("$ ").strip() if console else stripped
        expectation = EXPECTATION.match(stripped)
        if expectation and after_command:
            commands[-1].expected = expectation.group(1)
        after_command = False
        if not stripped or stripped.startswith("#"):
            continue
        assignment = _assignment(stripped)
        if assignment:
            name, value, export = assignment
            variables[name] = value
            if export:
                exported.append(name)
            continue
        commands.append(Command(block.page, number, stripped, dict(variables), tuple(exported)))
        after_command = True
    return commands


def inline_commands(page: Path, prose: list[tuple[int, str]]) -> list[Command]:
    """Commands written as inline code (`python scripts/…`) in running text and tables."""
    text = "\n".join(line for _, line in prose)
    numbers = [number for number, _ in prose]
    commands = []
    for match in re.finditer(r"`([^`]+)`", text):
        span = " ".join(match.group(1).split())
        if span.startswith("python scripts/"):
            commands.append(Command(page, numbers[text.count("\n", 0, match.start())], span))
    return commands


def page_commands(page: Path) -> list[Command]:
    blocks, prose = split_fences(page.read_text(), page)
    commands = [c for b in blocks if b.lang in SHELL_LANGS + CONSOLE_LANGS for c in block_commands(b)]
    return commands + inline_commands(page, prose)


def all_commands() -> list[Command]:
    return [command for page in PAGES for command in page_commands(page)]


def links(page: Path) -> list[tuple[int, str]]:
    """(line, target) of every inline link and image outside code: `[text](target)`, `![alt](target)`."""
    _, prose = split_fences(page.read_text(), page)
    found = []
    for number, line in prose:
        if line.startswith("    "):  # an indented code block
            continue
        without_code = re.sub(r"`[^`]*`", "", line)
        found += [(number, target) for target in re.findall(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", without_code)]
    return found
