"""The daemon's /metrics page (Prometheus text exposition format) as
samples: {(name, frozenset of (label, value)): float}."""
import re

SAMPLE_RX = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL_RX = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """{(name, frozenset of (label, value)): float}; comments left out."""
    out = {}
    for line in text.splitlines():
        m = SAMPLE_RX.match(line)
        if m and not line.startswith("#"):
            labels = frozenset(LABEL_RX.findall(m.group(2) or ""))
            out[(m.group(1), labels)] = float(m.group(3))
    return out


def value(samples, name, **want):
    """The sample with exactly these labels, or None if not reported."""
    return samples.get((name, frozenset(want.items())))


def total(samples, name, **want):
    """The sum of the samples of name that carry (at least) these
    labels."""
    return sum(v for (n, labels), v in samples.items() if n == name and
               all((k, w) in labels for k, w in want.items()))
