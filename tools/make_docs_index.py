"""Write docs/index.md, the docs site's home page, from README.md (the same text, links made relative
to docs/). ``tests/test_docs.py`` checks that the two agree; run this after editing the README."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def index_from_readme(readme: str) -> str:
    """The README's text with its links rewritten for a page inside docs/."""
    text = readme.replace("[`docs/`](docs/)", "`docs/`")
    text = text.replace("[`data/README.md`](data/README.md)", "`data/README.md` in the repository")
    return text.replace("](docs/", "](")


def main() -> None:
    (ROOT / "docs" / "index.md").write_text(index_from_readme((ROOT / "README.md").read_text()))


if __name__ == "__main__":
    main()
