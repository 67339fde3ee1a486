"""The desktop's Jinja environment: the same escaping and function calls as Jinja's own,
by a shorter path (web/rendering.py)."""

from __future__ import annotations

from jinja2 import pass_context
from markupsafe import Markup, escape

from frontdesk.web import rendering


class TestEscape:
    def test_the_same_text_as_markupsafe_for_every_kind_of_value(self):
        class Html:
            def __html__(self) -> str:
                return "<b>kept</b>"

        values = ["<a href='x'>&\"</a>", "plain", "", Markup("<i>safe</i>"), 42, None, Html()]
        for value in values:
            escaped = rendering._escape(value)
            assert type(escaped) is Markup
            assert escaped == escape(value)

    def test_templates_escape_through_it(self):
        template = rendering.templates.env.from_string("{{ a }}|{{ b }}|{{ n }}")
        text = template.render(a="<x>", b=Markup("<y>"), n=3)
        assert text == "&lt;x&gt;|<y>|3"
        assert template.root_render_func.__globals__["escape"] is rendering._escape


class TestCall:
    def test_plain_functions_and_jinjas_context_functions_both_work(self):
        @pass_context
        def who(context, greeting: str) -> str:  # type: ignore[no-untyped-def]
            return f"{greeting} {context['name']}"

        def shout(text: str, *, times: int = 1) -> str:
            return text.upper() * times

        def stops() -> str:
            raise StopIteration

        template = rendering.templates.env.from_string(
            "{{ who('hi') }}/{{ shout('a', times=2) }}/{{ len([1, 2]) }}/[{{ stops() }}]"
        )
        text = template.render(name="Layla", who=who, shout=shout, len=len, stops=stops)
        assert text == "hi Layla/AA/2/[]"
