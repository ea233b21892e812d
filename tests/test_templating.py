"""SMS templates as RaspiSMS renders them (RaspbianFrance/raspisms@5e2b030:
controllers/internals/Templating.php:25-97: Twig, sandboxed, strict_variables off, no autoescape)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from raspisms_daemon.templating import MAX_ITERATIONS, TemplateFailure, has_syntax, render

METAS = {"number": "+33612345678"}


@pytest.mark.parametrize(
    ("template", "contact", "expected"),
    [
        ("Hello {{ contact.name }}", {"name": "John"}, "Hello John"),  # RaspiSMS's documented use
        ("Hello {{ contact.name }}", {}, "Hello "),  # undefined: empty, as strict_variables = false
        ("{{ contact.a.b.c }}x", {}, "x"),  # an attribute of an undefined one too
        ("Hi {{ contact.firstname|default('friend') }}", [], "Hi friend"),  # contact = json_decode('[]')
        ("{{ contact_metas.number }}", {}, "+33612345678"),
        (
            "{% if contact.vip %}VIP {% endif %}{{ contact.name|upper }}",
            {"vip": True, "name": "ann"},
            "VIP ANN",
        ),
        ("{% for k in contact.items %}{{ k }};{% endfor %}", {"items": [1, 2]}, "1;2;"),
        ("{{ 'a' ~ contact.n }}", {"n": 5}, "a5"),  # Twig's concatenation
        ("<b>&{{ contact.x }}</b>", {"x": "<i>"}, "<b>&<i></b>"),  # no autoescape
        ("line\n", {}, "line\n"),  # a final newline is kept
        ("{{ contact.n }}\n", {"n": 1}, "1\n"),
        ("no syntax at all { } %", {}, "no syntax at all { } %"),
    ],
)
def test_twig_everyday_syntax_renders_as_raspisms_renders_it(
    template: str, contact: object, expected: str
) -> None:
    assert render(template, contact, METAS) == expected


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        ("Hello {{ contact.name", "TemplateSyntaxError"),
        ("{% for x in contact %}", "TemplateSyntaxError"),
        ("{{ contact.__class__.__mro__[1].__subclasses__() }}", "UndefinedError"),  # no way out of the data
        ("{{ contact_metas.number.__class__.__mro__[1].__subclasses__() }}", "SecurityError"),  # the sandbox
        ("{{ 1 + 'a' }}", "TypeError"),
        ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "loops more"),
        ("{{ 'x' * 100000 }}", "too long"),
        ("{{ 9 ** 99999 }}", "exponent"),
    ],
)
def test_a_broken_or_unsafe_template_is_a_template_failure(template: str, fragment: str) -> None:
    with pytest.raises(TemplateFailure, match=fragment):
        render(template, {"name": "x"}, METAS)


def test_loops_are_bounded_over_the_whole_render() -> None:
    assert (
        len(render(f"{{% for i in range({MAX_ITERATIONS}) %}}.{{% endfor %}}", {}, METAS)) == MAX_ITERATIONS
    )
    with pytest.raises(TemplateFailure):
        render("{% for i in range(6000) %}{% endfor %}{% for i in range(6000) %}{% endfor %}", {}, METAS)


def test_has_syntax_sees_the_three_delimiters() -> None:
    assert [has_syntax(t) for t in ("a {{ b }}", "{% if %}", "{# c #}", "a { b } c")] == [
        True,
        True,
        True,
        False,
    ]


def test_a_plain_text_renders_without_loading_jinja2() -> None:
    code = (
        "import sys; from raspisms_daemon.templating import render; "
        "assert render('plain', {}, {}) == 'plain'; print('jinja2' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
