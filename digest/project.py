"""Find the project root and read `[tool.digest]` from its pyproject.toml."""

from __future__ import annotations

import re
import string
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from digest.errors import DigestError, SettingsError
from digest.suggest import did_you_mean
from digest.urls import url_problem

PYPROJECT = "pyproject.toml"


class Settings(BaseModel):
    """`[tool.digest]`: defaults < the file < command-line flags."""

    model_config = ConfigDict(extra="forbid")

    title_pattern: str = Field(
        "Trends in AI — {month} {year}",
        description="Default issue title; {month} is the month's English name, {year} the year.",
    )
    editor: str = Field("", description="Default editor shown in the byline when an issue names none.")
    output_dir: str = Field("site", description="Where `digest build` writes, relative to the project root.")
    base_url: str = Field("", description="Public address of the published site (feed and archive links).")
    authors_max: int = Field(13, ge=1, description="'By' lines list every author up to this many …")
    authors_et_al: int = Field(3, ge=1, description="… and otherwise the first this-many, then 'et al.'.")
    link_check_exclude: list[str] = Field(
        default_factory=list, description="Regular expressions of URLs `digest check --online` skips."
    )
    arxiv_rss: str = Field(
        "https://rss.arxiv.org/rss/{category}",
        description="arXiv's listing feed for `digest inbox`; {category} is e.g. cs.LG (DIGEST_ARXIV_RSS overrides).",
    )
    inbox_categories: list[str] = Field(
        default_factory=lambda: ["cs.LG", "cs.CL", "cs.CV", "cs.AI"],
        description="arXiv categories `digest inbox` reads when no --category is given.",
    )
    news_feeds: list[str] = Field(
        default_factory=list, description="RSS or Atom feeds `digest inbox` lists under News (not addable)."
    )

    @field_validator("title_pattern")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        names = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        unknown = names - {"month", "year"}
        if unknown:
            raise ValueError(f"unknown placeholder {{{sorted(unknown)[0]}}}; use {{month}} and {{year}}")
        return value

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and url_problem(value):
            raise ValueError("must be an http(s) address such as https://example.org/digest/")
        if value and not value.endswith("/"):
            value += "/"
        return value

    @field_validator("link_check_exclude")
    @classmethod
    def _valid_patterns(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a regular expression ({exc})") from None
        return value

    @field_validator("arxiv_rss")
    @classmethod
    def _feed_pattern(cls, value: str) -> str:
        if url_problem(value.replace("{category}", "cs.LG")):
            raise ValueError("must be an http(s) address such as https://rss.arxiv.org/rss/{category}")
        names = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        if names != {"category"}:
            raise ValueError("must contain {category} and no other placeholder, e.g. https://rss.arxiv.org/rss/{category}")
        return value

    @field_validator("inbox_categories")
    @classmethod
    def _arxiv_categories(cls, value: list[str]) -> list[str]:
        for category in value:
            if not re.fullmatch(r"[a-z][a-z-]*(\.[A-Za-z][A-Za-z-]*)?", category):
                raise ValueError(f"{category!r} is not an arXiv category such as cs.LG or hep-th")
        return value

    @field_validator("news_feeds")
    @classmethod
    def _feed_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            problem = url_problem(url)
            if problem:
                raise ValueError(f"{url!r} is not an http(s) address: {problem}")
        return value


class Project(BaseModel):
    """A digest project: its root folder and settings."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    root: Path
    settings: Settings

    @property
    def issues_dir(self) -> Path:
        return self.root / "issues"

    @property
    def store_dir(self) -> Path:
        return self.root / "issues" / "arxiv"

    @property
    def templates_dir(self) -> Path:
        return self.root / "templates"

    @property
    def cache_dir(self) -> Path:
        """Derived data that is safe to delete (compiled templates, link-check results)."""
        return self.root / ".digest-cache"

    @property
    def output_dir(self) -> Path:
        return self.root / self.settings.output_dir


def find_root(start: Path) -> Path:
    """Walk up from `start`, as git does, to the first folder whose pyproject.toml has [tool.digest]."""
    start = start.resolve()
    for folder in (start, *start.parents):
        candidate = folder / PYPROJECT
        if candidate.is_file() and _has_digest_table(candidate):
            return folder
    raise DigestError(
        f"not inside a digest project: no {PYPROJECT} with a [tool.digest] table in {start} or above "
        "(run digest from the project folder, or pass -C DIR)"
    )


def _has_digest_table(path: Path) -> bool:
    # A cheap text test first: most pyproject.toml files on the way up are not ours.
    text = path.read_text(encoding="utf-8", errors="replace")
    return "[tool.digest]" in text or "[tool.digest." in text


def load_project(start: Path) -> Project:
    root = find_root(start)
    return Project(root=root, settings=load_settings(root / PYPROJECT, shown=shown_path(root / PYPROJECT)))


def shown_path(path: Path) -> Path:
    """A path as the editor would type it: relative to the current folder when inside it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def load_settings(path: Path, shown: Path | None = None) -> Settings:
    text = path.read_text(encoding="utf-8")
    where = shown or path
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, col = _toml_position(str(exc))
        raise SettingsError(where, line, col, f"invalid TOML: {exc}") from None
    table = data.get("tool", {}).get("digest", {})
    try:
        return Settings.model_validate(table)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = str(err["loc"][0]) if err["loc"] else ""
        line, col = _key_position(text, key)
        if err["type"] == "extra_forbidden":
            message = f"unknown setting '{key}' in [tool.digest]{did_you_mean(key, Settings.model_fields)}"
        else:
            message = f"setting '{key}': {err['msg']}"
        raise SettingsError(where, line, col, message) from None


def _key_position(text: str, key: str) -> tuple[int, int]:
    """Line and column of `key = …` inside [tool.digest]; tomllib keeps no positions."""
    in_table = False
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("["):
            in_table = stripped == "[tool.digest]"
            if in_table and not key:
                return number, 1
            continue
        if in_table and re.match(rf"^{re.escape(key)}\s*=", stripped):
            return number, line.index(key) + 1
    return 1, 1


def _toml_position(message: str) -> tuple[int, int]:
    match = re.search(r"line (\d+), column (\d+)", message)
    return (int(match.group(1)), int(match.group(2))) if match else (1, 1)
