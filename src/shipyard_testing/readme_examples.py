"""The shell examples of README.md, read as a reader would type them.

An example is one command line of a fenced ```sh block: continuation lines (`\\`) joined,
comments and blank lines skipped. In a block that shows output, a line `$ CMD` is a command
and the lines after it, up to the next `$ ` line, are its output.

Markers: an HTML comment alone on the line just before a block's opening fence says
something about every example of the block; it shows in the README's source, not on the
rendered page, and says why:

    <!-- not run: REASON -->        they cannot run in the tests (REASON names what is missing)
    <!-- before each: COMMAND -->   what each example assumes, run first in its own folder
    <!-- exits N -->                they fail on purpose, with exit code N
    <!-- output varies: REASON -->  their shown output is an illustration, not compared
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

FENCE = re.compile(r"^```(\S*)\s*$")
MARKER = re.compile(r"^<!--\s*(not run|before each|exits|output varies)\b:?\s*(.*?)\s*-->$")
# The volatile parts of an output: abbreviated or whole hashes and digests, ports, times.
VOLATILE = [(re.compile(r"\b[0-9a-f]{7,64}\b"), "<hex>"),
            (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:<port>"),
            (re.compile(r"\b\d+(\.\d+)?(ms|s)\b"), "<time>")]


@dataclass(frozen=True)
class Example:
    """One command of a README block, where it is, and what the README says it does."""

    line: int  # 1-based line of the command in README.md
    command: str
    shown_output: tuple[str, ...] | None = None  # for `$ CMD` examples
    not_run: str | None = None
    before_each: str | None = None
    exit_code: int = 0
    output_varies: str | None = None

    @property
    def id(self) -> str:
        return f"README.md:{self.line}: {self.command[:60]}"


def read_examples(readme: Path) -> list[Example]:
    """Every command of every ```sh block, in the order the README shows them."""
    lines = readme.read_text().splitlines()
    examples: list[Example] = []
    index = 0
    while index < len(lines):
        fence = FENCE.match(lines[index])
        if not fence:
            index += 1
            continue
        end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
        if fence.group(1) == "sh":
            markers = _markers(lines, index)
            examples += _block_examples(lines[index + 1:end], index + 2, markers)
        index = end + 1
    return examples


def _markers(lines: list[str], fence: int) -> dict[str, str]:
    """The markers on the lines right above a fence (several may stack); a comment there
    that is not one of them is a mistake, not something to ignore quietly."""
    found: dict[str, str] = {}
    above = fence - 1
    while above >= 0 and lines[above].strip().startswith("<!--"):
        marker = MARKER.match(lines[above].strip())
        if marker is None:
            raise ValueError(f"README.md:{above + 1}: {lines[above].strip()} is not a marker "
                             "for the examples below it (see shipyard_testing.readme_examples)")
        found[marker.group(1)] = marker.group(2)
        above -= 1
    return found


def _block_examples(body: list[str], first_line: int, markers: dict[str, str]
                    ) -> list[Example]:
    shows_output = any(line.startswith("$ ") for line in body)
    settings = {"not_run": markers.get("not run"), "before_each": markers.get("before each"),
                "exit_code": int(markers.get("exits") or 0),
                "output_varies": markers.get("output varies")}
    examples: list[Example] = []
    index = 0
    while index < len(body):
        number, text = first_line + index, body[index]
        index += 1
        if shows_output:
            if not text.startswith("$ "):
                continue  # output of the command above
            output = []
            while index < len(body) and not body[index].startswith("$ "):
                output.append(body[index])
                index += 1
            examples.append(Example(number, text[2:], tuple(output), **settings))
            continue
        while text.endswith("\\") and index < len(body):
            text = text[:-1] + body[index].strip()
            index += 1
        command = _without_comment(text).strip()
        if command:
            examples.append(Example(number, command, **settings))
    return examples


def _without_comment(line: str) -> str:
    """The line without a trailing `# comment` (a `#` outside quotes, after a space)."""
    quote = None
    for position, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (position == 0 or line[position - 1].isspace()):
            return line[:position]
    return line


def normalised(text: str) -> str:
    for pattern, replacement in VOLATILE:
        text = pattern.sub(replacement, text)
    return text.rstrip()


def output_matches(shown: tuple[str, ...], actual: str) -> str | None:
    """None when the shown output is what ran, in order (`...` stands for any lines);
    otherwise the first shown line that is missing."""
    lines = [normalised(line) for line in actual.splitlines()]
    position = 0
    gap = False
    for want in shown:
        if want.strip() in ("...", "…"):
            gap = True
            continue
        expected = normalised(want)
        if gap:
            found = next((i for i in range(position, len(lines)) if lines[i] == expected), None)
        else:
            found = position if position < len(lines) and lines[position] == expected else None
        if found is None:
            return want
        position, gap = found + 1, False
    return None
