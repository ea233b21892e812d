"""The Prometheus text renderer (pure)."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from raspisms_daemon.api.metrics import Sample, render


def test_one_help_and_type_per_name_samples_grouped() -> None:
    text = render(
        [Sample("b_total", 1, (("x", "1"),)), Sample("a", 2.5), Sample("b_total", 3, (("x", "2"),))]
    )
    assert text == (
        "# HELP raspisms_a a\n# TYPE raspisms_a gauge\nraspisms_a 2.5\n"
        "# HELP raspisms_b_total b total\n# TYPE raspisms_b_total counter\n"
        'raspisms_b_total{x="1"} 1\nraspisms_b_total{x="2"} 3\n'
    )


def test_labels_are_rendered_escaped_and_read_back_by_the_reference_parser() -> None:
    samples = [Sample("deliveries_total", 4, (("result", "ok"), ("webhook", 'a"b\\c\nd')))]
    (family,) = text_string_to_metric_families(render(samples))
    assert family.name == "raspisms_deliveries"
    assert family.samples[0].labels == {"result": "ok", "webhook": 'a"b\\c\nd'}


def test_special_values_render_as_prometheus_spells_them() -> None:
    text = render([Sample("a", float("inf")), Sample("b", float("nan")), Sample("c", 0.1), Sample("d", 1e20)])
    values = {f.name: f.samples[0].value for f in text_string_to_metric_families(text)}
    assert (
        values["raspisms_a"] == float("inf") and values["raspisms_c"] == 0.1 and values["raspisms_d"] == 1e20
    )
    assert "raspisms_b NaN" in text
