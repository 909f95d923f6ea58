"""The issue's description in the two formats Jira reads: Atlassian Document Format (Cloud,
REST v3) and wiki markup (Data Center, REST v2). Pure."""

from __future__ import annotations

from typing import Any


def _text(text: str, href: str | None = None) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "text", "text": text}
    if href:
        node["marks"] = [{"type": "link", "attrs": {"href": href}}]
    return node


def adf_document(paragraphs: list[str], link_text: str, link_url: str) -> dict[str, Any]:
    """An ADF ``doc``: one paragraph per text (empty ones left out), then the link back."""
    content: list[dict[str, Any]] = [
        {"type": "paragraph", "content": [_text(p)]} for p in paragraphs if p.strip()
    ]
    if link_url:
        content.append({"type": "paragraph", "content": [_text(link_text, link_url)]})
    return {"type": "doc", "version": 1, "content": content}


def wiki_markup(paragraphs: list[str], link_text: str, link_url: str) -> str:
    """The same description in Jira wiki markup: paragraphs, then ``[text|url]``."""
    parts = [_escape(p) for p in paragraphs if p.strip()]
    if link_url:
        parts.append(f"[{_escape(link_text).replace('|', ' ')}|{link_url}]")
    return "\n\n".join(parts)


def _escape(text: str) -> str:
    """Keep a request's own text from becoming macros, links or images (``{code}``,
    ``[text|url]``, ``!image!``); emphasis marks are left as the writer typed them."""
    for char in "\\{}[]|!":
        text = text.replace(char, "\\" + char)
    return text
