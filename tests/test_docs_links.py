"""Documentation links: every relative link and image in the repository's Markdown files points at a file that exists
in the repository, and every `#anchor` into a Markdown file names one of its headings (GitHub's slugs); README.md stays
short. Reads files only (no package import), so it runs in well under a second."""

from __future__ import annotations

import re
import subprocess
import unicodedata
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parent.parent
README_MAX_LINES = 300

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t]*#*[ \t]*$")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
#: [text](target) and ![alt](target); the target may be <bracketed> and may carry a "title".
INLINE_LINK = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>]*>|[^\s()]+(?:\([^\s()]*\)[^\s()]*)*)(?:\s+\"[^\"]*\")?\s*\)"
)
REFERENCE_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
HTML_LINK = re.compile(r"<(?:a|img)\b[^>]*?\b(?:href|src)\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def repo_files() -> set[str]:
    """Tracked files plus new files git does not ignore (a file about to be committed counts), present on disk."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return {p for p in out.split("\0") if p and (ROOT / p).is_file()}


def markdown_files(files: set[str]) -> list[str]:
    return sorted(p for p in files if p.lower().endswith(".md"))


def strip_inline(text: str) -> str:
    """A heading's rendered text: links become their text, code spans their content, emphasis and HTML go."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    parts = CODE_SPAN.split(text)  # [text, ticks, code, ticks, code, ..., text]: code kept as written
    out = []
    for i, part in enumerate(parts):
        if i % 3 == 0:
            out.append(re.sub(r"(\*+|(?<!\w)_+|_+(?!\w))", "", re.sub(r"<[^>]+>", "", part)))
        elif i % 3 == 2:
            out.append(part)
    return "".join(out)


def github_slug(text: str) -> str:
    """GitHub's heading anchor: lower case, punctuation and symbols dropped (letters, marks, digits, `_` and `-`
    kept), each space a hyphen."""
    kept = []
    for ch in strip_inline(text).strip().lower():
        cat = unicodedata.category(ch)
        if ch == " ":
            kept.append("-")
        elif ch in "-_" or cat[0] in "LMN":
            kept.append(ch)
    return "".join(kept)


def scan(text: str) -> tuple[list[tuple[int, str]], set[str]]:
    """(line number, link target) of every link outside code, and the anchors of the file's headings."""
    links: list[tuple[int, str]] = []
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    fence = ""
    for number, line in enumerate(text.splitlines(), 1):
        opened = FENCE.match(line)
        if fence:
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
                fence = ""
            continue
        if opened:
            fence = opened.group(1)
            continue
        heading = HEADING.match(line)
        if heading:
            slug = github_slug(heading.group(2))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            anchors.add(slug if count == 0 else f"{slug}-{count}")
        anchors.update(re.findall(r"<a\s+(?:name|id)=[\"']([^\"']+)[\"']", line))
        plain = CODE_SPAN.sub(lambda m: " " * len(m.group(0)), line)
        targets = [m.group(1) for m in INLINE_LINK.finditer(plain)] + [m.group(1) for m in HTML_LINK.finditer(plain)]
        ref = REFERENCE_DEF.match(plain)
        if ref:
            targets.append(ref.group(1))
        links.extend((number, t.strip("<>")) for t in targets)
    return links, anchors


def broken_links() -> list[str]:
    files = repo_files()
    folders = {str(Path(p).parents[i]) for p in files for i in range(len(Path(p).parents) - 1)}
    texts = {md: (ROOT / md).read_text(encoding="utf-8") for md in markdown_files(files)}
    scanned = {md: scan(text) for md, text in texts.items()}
    problems = []
    for md, (links, _) in scanned.items():
        for number, target in links:
            if SCHEME.match(target) or target.startswith("//"):
                continue  # external (https:, mailto:, ...)
            path_part, _, anchor = target.partition("#")
            where = f"{md}:{number}: link '{target}'"
            if path_part:
                resolved = (ROOT / md).parent / unquote(path_part)
                try:
                    rel = resolved.resolve().relative_to(ROOT).as_posix()
                except ValueError:
                    problems.append(f"{where}: points outside the repository")
                    continue
                if rel not in files and rel not in folders:
                    why = "is ignored by git or untracked" if resolved.exists() else "does not exist"
                    problems.append(f"{where}: {rel} {why}")
                    continue
            else:
                rel = md
            if anchor and rel.lower().endswith(".md"):
                anchors = scanned[rel][1] if rel in scanned else set()
                if unquote(anchor).lower() not in anchors:
                    problems.append(f"{where}: no heading with anchor '#{anchor}' in {rel}")
    return problems


def test_relative_links_and_anchors_resolve() -> None:
    problems = broken_links()
    assert not problems, "broken Markdown links:\n" + "\n".join(problems)


def test_readme_is_at_most_300_lines() -> None:
    lines = len((ROOT / "README.md").read_text(encoding="utf-8").splitlines())
    assert lines <= README_MAX_LINES, (
        f"README.md has {lines} lines; keep it to {README_MAX_LINES} (details go to docs/)"
    )


def test_slugs_follow_github() -> None:
    assert (
        github_slug("Human3.6M: real detector output (the flagship real-data result)")
        == "human36m-real-detector-output-the-flagship-real-data-result"
    )
    assert (
        github_slug("Does E name the parts? (the paper's Fig. 5 for our data)")
        == "does-e-name-the-parts-the-papers-fig-5-for-our-data"
    )
    assert github_slug("`partkd/data/occlusion.py`") == "partkddataocclusionpy"
    assert github_slug("bf16 without AMX (Zen 5)") == "bf16-without-amx-zen-5"
    assert (
        github_slug("Scale: NTU-120-sized data on one 2-core, 24 GB machine")
        == "scale-ntu-120-sized-data-on-one-2-core-24-gb-machine"
    )
    links, anchors = scan("# A\n## A\n```\n[x](nowhere.md)\n```\n[y](b.md#a-1) `[z](c.md)`\n")
    assert links == [(6, "b.md#a-1")] and anchors == {"a", "a-1"}
