"""loss-conformance: a cross-framework conformance suite for loss functions.

Public API::

    from conformance import run, load_cases, evaluate_oracle
    frame = run(["cases"], frameworks=["torch"], dtypes=["float32"])
"""

from conformance.loader import CaseError, LoadResult, load_cases
from conformance.oracle import evaluate as evaluate_oracle
from conformance.results import read_results
from conformance.runner import run

__all__ = ["CaseError", "LoadResult", "evaluate_oracle", "load_cases", "read_results", "run"]
