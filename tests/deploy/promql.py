"""What PromQL queries read, and what a /metrics page offers — to check dashboards and alerts
only ask for series the services really export.

`metric_names` is a small tokenizer, not a full parser: it drops strings, label matchers,
durations, grouping clauses and Grafana variables, then keeps the identifiers that are neither
functions, keywords nor aggregation operators. That is all PromQL has left: metric names.
"""

from __future__ import annotations

import re

KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool",
    "atan2", "inf", "nan",
    # aggregation operators
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk",
    "quantile", "limitk", "limit_ratio",
}

_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_GRAFANA = re.compile(r"\$\{?\w+\}?")
_IDENT = re.compile(r"(?<![\w.:])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\()?")
_NUMBER_WORD = re.compile(r"^(?:0x[0-9a-f]+|\d.*)$", re.I)


def metric_names(expr: str) -> set[str]:
    """The metric (and recording-rule) names a PromQL expression selects."""
    text = _STRING.sub('""', expr)
    text = _GRAFANA.sub("1", text)
    text = _RANGE.sub("", text)
    text = _GROUPING.sub("", text)
    previous = None
    while previous != text:  # nested braces cannot occur in PromQL, but be safe
        previous, text = text, _MATCHERS.sub("", text)
    names = set()
    for match in _IDENT.finditer(text):
        word, call = match.group(1), match.group(2)
        if call or word.lower() in KEYWORDS or _NUMBER_WORD.match(word):
            continue
        if re.fullmatch(r"\d+[smhdwy]", word):
            continue
        names.add(word)
    return names


def exported_names(exposition: str) -> set[str]:
    """Every series name a Prometheus text page offers, including the ones of families that have
    no sample yet (``# TYPE`` lines): counters as ``_total``, histograms as ``_bucket/_sum/_count``."""
    names: set[str] = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(maxsplit=3)
            if kind == "counter":
                base = name.removesuffix("_total")
                names |= {f"{base}_total", f"{base}_created"}
            elif kind == "histogram":
                names |= {name, f"{name}_bucket", f"{name}_sum", f"{name}_count", f"{name}_created"}
            elif kind == "summary":
                names |= {name, f"{name}_sum", f"{name}_count", f"{name}_created"}
            else:
                names.add(name)
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{\s]", line, maxsplit=1)[0])
    return names
