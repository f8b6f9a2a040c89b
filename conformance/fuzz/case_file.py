"""A finding written as a case file, ready to review into ``cases/``.

The case holds the minimal input hypothesis shrank it to, the oracle's float64
value as ``expected``, and the one dtype it was found in. What the binding gave
and the measured interpretation are comments: a reviewer turns them into an
``expect`` entry with a reason and a source, or fixes the adapter. Nothing in
the file is an expectation until a person writes one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from conformance.fuzz.search import Finding
from conformance.fuzz.strategies import written
from conformance.number_text import encode

_SLUG = re.compile(r"[^a-z0-9]+")


def case_fields(finding: Finding, case_id: str, replay: str) -> dict[str, Any]:
    """The case file entry of ``finding``."""
    fields: dict[str, Any] = {
        "id": case_id,
        "title": f"{finding.binding} ({finding.dtype}): {finding.summary}",
        "source": replay,
        "tags": ["fuzz", "known" if finding.known_by else "new"],
        **written(finding.case),
        "dtypes": [finding.dtype],
    }
    if finding.quantity == "value":
        fields["gradient"] = False  # the finding is about the value; its gradient is another question
    fields["expected"] = encode(np.asarray(finding.case.expected, dtype=np.float64))
    return fields


def finding_text(finding: Finding, case_id: str, replay: str) -> str:
    """The YAML of one finding: comments saying what was measured, then the case."""
    result = finding.result
    measured, oracle = ((result.value, result.oracle) if finding.quantity == "value"
                        else (result.grad, result.grad_oracle))
    lines = [
        f"# Found by `{replay}`",
        f"# {finding.binding} in {finding.dtype}: {finding.quantity} {finding.summary}",
        f"# it gave {measured!r}; the oracle {oracle!r}",
        f"# {finding.hits} of the drawn examples showed this; hypothesis shrank it to this one.",
        f"# already documented by case {finding.known_by}" if finding.known_by else
        "# New: review it, then document it in `expect` (reason, category, source) or fix the adapter.",
        f"# Replay this file: conformance run --cases THIS_FILE --frameworks {result.framework} "
        f"--dtypes {finding.dtype}",
    ]
    body = yaml.safe_dump({"cases": [case_fields(finding, case_id, replay)]}, default_flow_style=None,
                          sort_keys=False, width=110)
    return "\n".join(lines) + "\n" + body


def write_findings(findings: Iterable[Finding], out: Path, replay: str) -> list[Path]:
    """One file per finding under ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    counts: dict[str, int] = {}
    for finding in findings:
        slug = _SLUG.sub("-", finding.binding.lower()).strip("-")
        counts[slug] = counts.get(slug, 0) + 1
        case_id = f"fuzz-{slug}-{counts[slug]}"
        path = out / f"{case_id}.yaml"
        path.write_text(finding_text(finding, case_id, replay), encoding="utf-8")
        written.append(path)
    return written
