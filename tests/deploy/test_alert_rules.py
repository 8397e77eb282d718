"""The Prometheus alert rules in deploy/: valid rule files, naming only series gridcare exposes.

promtool is not installable from the registries this project uses, so this is the check CI
runs instead: the rule-file schema (groups, rules, ``for`` durations, labels, annotations),
balanced and well-formed PromQL, and every ``gridcare_*`` series an expression names exists in
the metrics registry the API and the worker expose - a renamed metric fails here, not at 3 a.m.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import Counter, Gauge, Histogram

import services.worker.metrics  # noqa: F401 - the worker's series register with the same registry
from services.core import metrics

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "gridcare-rules.yaml"
DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")
RULE_KEYS = {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"}
FUNCTIONS = {
    "abs", "absent", "avg", "clamp_min", "clamp_max", "count", "histogram_quantile", "increase",
    "max", "min", "rate", "sum", "irate", "by", "without", "on", "ignoring", "group_left", "group_right",
}  # fmt: skip
REQUIRED_ALERTS = {"GridcareDeadlineLagHigh", "GridcareOutboxStuck", "GridcareApiErrorRate"}


def exposed_series() -> set[str]:
    """Every sample name the registry can expose (``_total``, ``_bucket``, ... included)."""
    names: set[str] = set()
    for collector in list(metrics.REGISTRY._collector_to_names):  # noqa: SLF001 - the registry's own index
        if isinstance(collector, Counter):
            base = collector._name  # noqa: SLF001
            names |= {f"{base}_total", f"{base}_created"}
        elif isinstance(collector, Histogram):
            base = collector._name  # noqa: SLF001
            names |= {f"{base}_bucket", f"{base}_sum", f"{base}_count", f"{base}_created"}
        elif isinstance(collector, Gauge):
            names.add(collector._name)  # noqa: SLF001
    return names


def load() -> dict[str, Any]:
    document = yaml.safe_load(RULES.read_text())
    assert isinstance(document, dict)
    return document


def all_rules() -> list[dict[str, Any]]:
    return [rule for group in load()["groups"] for rule in group["rules"]]


def test_the_rule_file_has_the_shape_prometheus_loads() -> None:
    document = load()
    assert set(document) == {"groups"}
    names = [g["name"] for g in document["groups"]]
    assert len(names) == len(set(names)), "group names are unique"
    for group in document["groups"]:
        assert set(group) <= {"name", "interval", "rules", "limit"}
        assert group["rules"], f"group {group['name']} has rules"
        for rule in group["rules"]:
            assert set(rule) <= RULE_KEYS, f"unknown keys in {rule.get('alert')}"
            assert re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", rule["alert"])
            assert isinstance(rule["expr"], str)
            assert rule["expr"].strip()
            assert DURATION.match(rule["for"]), f"{rule['alert']}: 'for' is a duration"
            assert rule["labels"]["severity"] in {"warning", "critical"}
            assert rule["annotations"]["summary"]
            for value in [*rule["labels"].values(), *rule["annotations"].values()]:
                assert isinstance(value, str)
    alerts = [r["alert"] for r in all_rules()]
    assert len(alerts) == len(set(alerts)), "alert names are unique"
    assert set(alerts) >= REQUIRED_ALERTS, "deadline lag, outbox age and error rate are watched"


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r["alert"])
def test_each_expression_is_well_formed_and_names_exposed_series(rule: dict[str, Any]) -> None:
    expr: str = rule["expr"]
    pairs = {"(": ")", "[": "]", "{": "}"}
    stack: list[str] = []
    in_string = False
    for char in expr:
        if char == '"':
            in_string = not in_string
        elif in_string:
            continue
        elif char in pairs:
            stack.append(pairs[char])
        elif char in pairs.values():
            assert stack, f"unbalanced {char!r} in {expr}"
            assert stack.pop() == char, f"mismatched {char!r} in {expr}"
    assert not stack, f"unclosed brackets in {expr}"
    assert not in_string, f"unclosed string in {expr}"
    for window in re.findall(r"\[([^\]]+)\]", expr):
        assert DURATION.match(window), f"range {window!r} is a duration"
    series = set(re.findall(r"\bgridcare_[a-z0-9_]+", expr))
    assert series, "an alert on gridcare watches a gridcare series"
    assert series <= exposed_series(), f"not exposed by gridcare: {series - exposed_series()}"
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    without_labels = re.sub(r"\{[^}]*\}", "", without_strings)
    words = set(re.findall(r"\b([a-z_][a-z0-9_]*)\s*\(", without_labels))
    assert words <= FUNCTIONS, f"unknown functions {words - FUNCTIONS}"
    assert re.search(r"(>|<|==|!=|>=|<=)\s*[0-9.e-]+\s*$", expr.strip()) or expr.startswith("absent("), (
        "an alert compares against a threshold"
    )
