"""loss-conformance: a cross-framework conformance suite for loss functions.

Public API::

    from conformance import run, explain, profile, porting_guide, UserAdapter
    frame = run(["cases"], frameworks=["torch"], dtypes=["float32"])
    mine = run(["cases"], adapter=UserAdapter.parse("mypkg.losses:my_ce", "cross_entropy[logits,index]"))
    profile(frame)        # measured semantic table beside the declarations
    porting_guide(frame)  # equivalent calls, each backed by passing rows
    explain("ce-probs-unnormalised")
"""

from conformance.explain import explain
from conformance.loader import CaseError, LoadResult, load_cases
from conformance.oracle import evaluate as evaluate_oracle
from conformance.porting import porting_guide
from conformance.profile import profile, semantic_table
from conformance.results import read_results
from conformance.runner import run
from conformance.user_adapter import UserAdapter

__all__ = ["CaseError", "LoadResult", "evaluate_oracle", "explain", "load_cases", "porting_guide",
           "profile", "read_results", "run", "semantic_table", "UserAdapter"]
