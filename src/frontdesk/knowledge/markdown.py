"""Article bodies: Markdown as authors write it, rendered to sanitised HTML."""

from __future__ import annotations

import re

import nh3
from markdown_it import MarkdownIt

# CommonMark with tables and strikethrough; raw HTML in the source is shown as text, and
# whatever the renderer emits is sanitised again (defence in depth).
_MD = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(["table", "strikethrough"])
_TAGS = {
    "a", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
    "img", "li", "ol", "p", "pre", "s", "strong", "table", "tbody", "td", "th", "thead", "tr",
    "ul",
}  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "*": {"dir", "lang"},
}
_BLOCK = re.compile(
    r"<(?:br|hr|img)\b[^>]*>|</?(?:p|li|ul|ol|h[1-6]|tr|td|th|pre|blockquote|table)\b[^>]*>"
)
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def render(body: str) -> str:
    """Sanitised HTML of a Markdown body; images may come from http(s) URLs (help-centre
    pages show them to the public, who load them anyway), scripts and handlers never."""
    return nh3.clean(
        _MD.render(body),
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


def plain_text(html: str) -> str:
    """The words of rendered HTML, for snippets and the search index."""
    text = _TAG.sub("", _BLOCK.sub(" ", html))
    for entity, char in (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&#39;", "'")):
        text = text.replace(entity, char)
    return _SPACE.sub(" ", text.replace("&amp;", "&")).strip()
