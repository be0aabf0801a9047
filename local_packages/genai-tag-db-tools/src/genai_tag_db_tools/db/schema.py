"""Tables of the tag database: a replaceable base file and a user overlay file.

The base (`base.sqlite`) is rebuilt wholesale by every import or install, so nothing the user adds
lives there. The overlay (`user.sqlite`, attached as schema `overlay`) keys everything by tag text
rather than base ids, so user aliases, tags and translations stay valid across base replacements.

Every tag row carries `key` (`cleaning.lookup_key`: canonical and case-folded); `tag` keeps the
preferred spelling so lookups can fold case and still return the database's spelling.
"""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Index, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

OVERLAY_SCHEMA = "overlay"
TAG_TYPES = ("general", "artist", "copyright", "character", "meta")
FORMATS = ("danbooru", "e621")
PREFIX_TOP_LENGTH = 2
PREFIX_TOP_ROWS = 50


class BaseTables(DeclarativeBase):
    metadata = MetaData()


class OverlayTables(DeclarativeBase):
    metadata = MetaData(schema=OVERLAY_SCHEMA)


class TagRow(BaseTables):
    __tablename__ = "tags"

    tag_id: Mapped[int] = mapped_column(primary_key=True)
    tag: Mapped[str] = mapped_column(Text)
    key: Mapped[str] = mapped_column(Text, unique=True)


class TagStatus(BaseTables):
    """A tag's standing in one format; `preferred_tag_id` is itself unless it is an alias/replaced."""

    __tablename__ = "tag_status"
    # Clustered on (tag_id, format): every normalisation join reads the row in one b-tree descent.
    __table_args__ = ({"sqlite_with_rowid": False},)

    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.tag_id"), primary_key=True)
    format: Mapped[str] = mapped_column(String(16), primary_key=True)
    type: Mapped[str] = mapped_column(String(16), default="general")
    alias: Mapped[bool] = mapped_column(Boolean, default=False)
    deprecated: Mapped[bool] = mapped_column(Boolean, default=False)
    preferred_tag_id: Mapped[int] = mapped_column(Integer)
    usage_count: Mapped[int] = mapped_column(Integer, default=0)


class TagTranslation(BaseTables):
    __tablename__ = "tag_translations"
    __table_args__ = (Index("ix_tag_translations_tag", "tag_id", "language", "text", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.tag_id"))
    language: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    key: Mapped[str] = mapped_column(Text)


class SearchTerm(BaseTables):
    """Denormalised autocomplete rows: every tag, alias and translation -> preferred tag and count.

    Built once per import so a keystroke costs one index range scan, never a join chain.
    """

    __tablename__ = "search_terms"
    __table_args__ = (
        Index("ix_search_terms_prefix", "format", "term_key", "usage_count", "tag_id"),
        Index("ix_search_terms_count", "format", "usage_count", "term_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    format: Mapped[str] = mapped_column(String(16))
    term_key: Mapped[str] = mapped_column(Text)
    term: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    tag_id: Mapped[int] = mapped_column(Integer)
    usage_count: Mapped[int] = mapped_column(Integer)


class PrefixTop(BaseTables):
    """The best-ranked search terms of every 1-2 character prefix, whose ranges are too wide to sort live."""

    __tablename__ = "prefix_top"

    format: Mapped[str] = mapped_column(String(16), primary_key=True)
    prefix: Mapped[str] = mapped_column(Text, primary_key=True)
    rank: Mapped[int] = mapped_column(Integer, primary_key=True)
    search_term_id: Mapped[int] = mapped_column(Integer)


class AliasConflict(BaseTables):
    """An alias the source listed under several tags: one row per candidate target.

    Rank 1 is the target the import chose (higher post count, then not deprecated); a user alias
    in the overlay pins a different one.
    """

    __tablename__ = "alias_conflicts"

    format: Mapped[str] = mapped_column(String(16), primary_key=True)
    alias_key: Mapped[str] = mapped_column(Text, primary_key=True)
    rank: Mapped[int] = mapped_column(Integer, primary_key=True)
    alias: Mapped[str] = mapped_column(Text)
    target: Mapped[str] = mapped_column(Text)
    target_usage_count: Mapped[int] = mapped_column(Integer)
    target_deprecated: Mapped[bool] = mapped_column(Boolean)


class Metadata(BaseTables):
    __tablename__ = "metadata"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class UserAlias(OverlayTables):
    """`key` (an alias) -> `preferred` tag text, in every format; wins over the base."""

    __tablename__ = "user_aliases"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    alias: Mapped[str] = mapped_column(Text)
    preferred: Mapped[str] = mapped_column(Text)
    preferred_key: Mapped[str] = mapped_column(Text)


class UserTag(OverlayTables):
    """A tag the user declares known (with a type) although the base lacks it."""

    __tablename__ = "user_tags"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    tag: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(16), default="general")
    usage_count: Mapped[int] = mapped_column(Integer, default=0)


class UserTranslation(OverlayTables):
    __tablename__ = "user_translations"
    __table_args__ = (Index("ix_user_translations_text_key", "text_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tag: Mapped[str] = mapped_column(Text)
    tag_key: Mapped[str] = mapped_column(Text, index=True)
    language: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    text_key: Mapped[str] = mapped_column(Text)
