"""The arXiv metadata record kept in the store: one per paper, versioned, plain data."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from digest.latex import latex_to_unicode


class PaperRecord(BaseModel):
    """What the store keeps of one arXiv paper (the fields of an API entry we use)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="Canonical id without version: '2204.03458' or 'physics/0004057'.")
    version: int = Field(ge=1)
    title: str
    authors: list[str]
    published: dt.date
    updated: dt.date
    primary_category: str
    categories: list[str] = Field(default_factory=list)
    abstract: str = ""
    doi: str | None = None
    comment: str | None = None
    journal_ref: str | None = None

    @property
    def versioned_id(self) -> str:
        return f"{self.id}v{self.version}"

    @property
    def abs_url(self) -> str:
        return f"https://arxiv.org/abs/{self.id}"

    @property
    def clean_title(self) -> str:
        """The title as readable text: arXiv's line-wrapping collapsed, its LaTeX as Unicode where safe."""
        return latex_to_unicode(" ".join(self.title.split()))

    @property
    def clean_abstract(self) -> str:
        """The abstract as one paragraph of readable text, as `clean_title`."""
        return latex_to_unicode(" ".join(self.abstract.split()))
