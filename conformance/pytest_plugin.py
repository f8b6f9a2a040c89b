"""pytest plugin: every YAML case file under the case roots is a test file.

One item per case x binding x dtype, e.g.
``cases/cross_entropy/basics.yaml::soft-target[torch.cross_entropy-float32]``,
marked with its framework (``-m torch``). Items evaluate through the same
per-framework worker processes as ``conformance run``, so the pytest process
imports no framework. ``known``/``difference`` rows are xfails with their
reason; a framework that is not installed gives skips; a malformed case is
one failing item naming file and line, and the rest of the file still runs.

Loaded through the ``pytest11`` entry point; importing it imports nothing
heavy.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

_SUITE = pytest.StashKey["object"]()
_PLUGIN_PROBLEMS_SHOWN = pytest.StashKey[bool]()
_EVALUATOR = pytest.StashKey["object"]()
_BATCH = pytest.StashKey["object"]()
_SHARD_KEYS = pytest.StashKey["object"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("loss-conformance")
    group.addoption("--conformance-dtypes", default="float16,bfloat16,float32,float64",
                    help="comma-separated dtypes to evaluate (default: all four)")
    group.addoption("--conformance-frameworks", default=None,
                    help="comma-separated frameworks to evaluate (default: every installed one; "
                         "with --conformance-adapter, none but the adapter)")
    group.addoption("--conformance-adapter", default=None, metavar="MODULE:FUNCTION",
                    help="test your own loss function, e.g. mypkg.losses:my_cross_entropy")
    group.addoption("--conformance-adapter-as", default=None, metavar="LOSS[INPUT,TARGET]",
                    help="what the adapter computes, e.g. cross_entropy[logits,index], with the options "
                         "it takes as keywords in parentheses: smooth_l1[predictions,values](beta)")
    group.addoption("--conformance-adapter-on", default="torch", metavar="FRAMEWORK",
                    help="whose arrays the adapter takes (default torch)")
    group.addoption("--conformance-timeout", type=float, default=60.0,
                    help="per-evaluation time limit in seconds")
    group.addoption("--conformance-startup-timeout", type=float, default=300.0,
                    help="how long a framework may take to import and start before its rows fail")
    group.addoption("--conformance-shard", default=None, metavar="K/N",
                    help="only the K-th of N balanced shards of the matrix, as conformance run --shard")
    group.addoption("--conformance-max-elements", type=int, default=None,
                    help="refuse a case holding more than this many numbers, before allocating it "
                         "(default: conformance run's, 10 million)")
    group.addoption("--conformance-keep-warm", type=float, default=None, metavar="MINUTES",
                    help="leave each framework's worker running for the next session until idle MINUTES "
                         "(default: CONFORMANCE_KEEP_WARM, unset: none), as conformance run --keep-warm")
    parser.addini("conformance_cases", type="paths", default=[Path("cases")],
                  help="directories whose YAML files are conformance cases")


def _registered() -> list[str]:
    """The framework names of the entry-point group, read from metadata: imports nothing."""
    from importlib import metadata

    return sorted({e.name for e in metadata.entry_points(group="loss_conformance.frameworks")})


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "conformance: an evaluation of the conformance matrix")
    installed = _registered()
    unknown = [n for n in _items(config.getoption("conformance_frameworks")) if n not in installed]
    if unknown:
        raise pytest.UsageError(f"--conformance-frameworks: unknown framework {unknown[0]!r}; "
                                f"choose from {', '.join(installed)}")
    for name in installed + ["user"]:
        config.addinivalue_line("markers", f"{name}: evaluations of {name} bindings")
    _adapter(config)  # a wrong --conformance-adapter is a usage error before collection
    _shard(config)
    _keep_warm(config)


def _keep_warm(config: pytest.Config) -> float:
    """Seconds warm workers wait for the next session (0: none)."""
    from conformance.warm import idle_seconds

    try:
        return idle_seconds(config.getoption("conformance_keep_warm"))
    except ValueError as exc:
        raise pytest.UsageError(f"--conformance-keep-warm: {exc}") from None


def _shard(config: pytest.Config):
    given = config.getoption("conformance_shard")
    if given is None:
        return None
    from conformance.shard import Shard, ShardSpecError

    try:
        return Shard.parse(given)
    except ShardSpecError as exc:
        raise pytest.UsageError(str(exc)) from None


def _adapter(config: pytest.Config):
    """The user's adapter framework, or None."""
    given, declared = config.getoption("conformance_adapter"), config.getoption("conformance_adapter_as")
    if given is None and declared is None:
        return None
    from conformance.user_adapter import AdapterSpecError, UserAdapter

    if given is None or declared is None:
        raise pytest.UsageError("--conformance-adapter and --conformance-adapter-as go together, e.g. "
                                "--conformance-adapter mypkg.losses:my_ce "
                                "--conformance-adapter-as 'cross_entropy[logits,index]'")
    try:
        return UserAdapter.parse(given, declared, config.getoption("conformance_adapter_on")).framework()
    except AdapterSpecError as exc:
        raise pytest.UsageError(str(exc)) from None


def _frameworks(config: pytest.Config) -> list:
    from conformance import frameworks as registry

    adapter = _adapter(config)
    chosen = config.getoption("conformance_frameworks")
    if chosen is None:
        chosen = "" if adapter is not None else ",".join(registry.names())
    return [registry.framework(n) for n in _items(chosen)] + ([adapter] if adapter else [])


def pytest_collection_finish(session: pytest.Session) -> None:
    """Collection is final (``-k``, ``-m`` applied): evaluate every selected matrix item in the
    background, in parallel, as ``conformance run`` does (:mod:`conformance.pytest_batch`)."""
    evaluations = [item.evaluation for item in session.items if isinstance(item, ConformanceItem)]
    if not evaluations or session.config.option.collectonly:
        return
    from conformance.pytest_batch import Batch, run_id

    session.config.stash[_BATCH] = Batch(evaluations, _evaluator(session.config), run_id(session.config))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    batch = session.config.stash.get(_BATCH, None)
    if batch is not None:
        stopped = bool(session.shouldstop or session.shouldfail) or exitstatus == pytest.ExitCode.INTERRUPTED
        batch.close(wait=not stopped)


def pytest_unconfigure(config: pytest.Config) -> None:
    evaluator = config.stash.get(_EVALUATOR, None)
    if evaluator is not None:
        evaluator.close()
    if getattr(config, "workerinput", None) is None:  # the xdist controller, or a plain session
        from conformance.pytest_batch import remove_session_files

        remove_session_files()


def pytest_report_header(config: pytest.Config) -> str:
    chosen = config.getoption("conformance_frameworks") or "every installed one"
    adapter = config.getoption("conformance_adapter")
    chosen += f" + your adapter {adapter}" if adapter else ""
    return (f"loss-conformance: frameworks {chosen}, "
            f"dtypes {config.getoption('conformance_dtypes')}")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    roots = [Path(root).resolve() for root in parent.config.getini("conformance_cases")]
    if any(file_path.resolve().is_relative_to(root) for root in roots):
        return CaseFile.from_parent(parent, path=file_path)
    return None


def _suite(config: pytest.Config):
    """All cases of the case roots, loaded once (ids are unique across files)."""
    if _SUITE not in config.stash:
        from conformance.loader import load_cases

        config.stash[_SUITE] = load_cases(config.getini("conformance_cases"), _limits(config))
    return config.stash[_SUITE]


def _limits(config: pytest.Config):
    from conformance.loader import LoadLimits

    given = config.getoption("conformance_max_elements")
    return LoadLimits() if given is None else LoadLimits(max_elements=given)


def _evaluator(config: pytest.Config):
    if _EVALUATOR not in config.stash:
        from conformance.evaluation import Evaluator

        config.stash[_EVALUATOR] = Evaluator(timeout=config.getoption("conformance_timeout"),
                                             startup_timeout=config.getoption("conformance_startup_timeout"),
                                             keep_warm=_keep_warm(config) / 60.0)
    return config.stash[_EVALUATOR]


class CaseFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        from conformance.evaluation import plan
        from conformance.loader import display_path, load_file

        suite = _suite(self.config)
        name = display_path(self.path)
        cases, errors = suite.by_file(name)
        if not cases and not errors:  # a file outside the suite load (given on the command line)
            cases, errors = load_file(self.path, _limits(self.config))
        for error in errors + _plugin_problems(self.config, suite):
            name = f"{error.case_id}[invalid]" if error.case_id else f"invalid-line-{error.line}"
            if error in suite.plugin_errors or error.file.startswith("plugin "):
                name = "plugin-" + "".join(c if c.isalnum() else "_" for c in f"{error.file}-{error.line}")
            yield CaseErrorItem.from_parent(self, name=name, error=error)
        frameworks = _frameworks(self.config)
        dtypes = tuple(_items(self.config.getoption("conformance_dtypes")))
        evaluations, unexpressible = plan(cases, frameworks, dtypes)
        chosen = _shard_keys(self.config, frameworks, dtypes)
        if chosen is not None:
            evaluations = [e for e in evaluations if (e.case.id, e.binding.id, e.dtype) in chosen]
            unexpressible = [r for r in unexpressible if (r.case_id, r.binding, r.dtype) in chosen]
        for row in unexpressible:
            yield UnexpressibleItem.from_parent(self, name=f"{row.case_id}[{row.binding}-{row.dtype}]",
                                                row=row)
        for evaluation in evaluations:
            yield ConformanceItem.from_parent(self, name=evaluation.name, evaluation=evaluation)


def _shard_keys(config: pytest.Config, frameworks: list, dtypes: tuple) -> set | None:
    """The (case, binding, dtype) of this shard, dealt over the whole suite as
    ``conformance run --shard`` deals them (so the two select the same rows)."""
    shard = _shard(config)
    if shard is None:
        return None
    if _SHARD_KEYS not in config.stash:
        from conformance.evaluation import plan

        evaluations, unexpressible = shard.of_plan(*plan(_suite(config).cases, frameworks, dtypes))
        config.stash[_SHARD_KEYS] = ({(e.case.id, e.binding.id, e.dtype) for e in evaluations}
                                     | {(r.case_id, r.binding, r.dtype) for r in unexpressible})
    return config.stash[_SHARD_KEYS]


def _plugin_problems(config: pytest.Config, suite) -> list:
    """Once per session (with the first case file): the errors of plugins' expectations files
    and the framework plugins installed but impossible to load. They belong to no case file."""
    if config.stash.get(_PLUGIN_PROBLEMS_SHOWN, False):
        return []
    config.stash[_PLUGIN_PROBLEMS_SHOWN] = True
    from conformance import frameworks as registry
    from conformance.case_error import CaseError

    broken = [CaseError(f"plugin {r.reference}", 1, 1, "", f"framework {name!r} from {r.distribution} cannot be "
                        f"loaded: {r.problem}") for name, r in registry.registrations().items() if r.problem]
    return list(suite.plugin_errors) + broken


def _items(text: str | None) -> list[str]:
    return [item.strip() for item in (text or "").split(",") if item.strip()]


class ConformanceFailure(Exception):
    """A fail or error row; carries the result for the failure report."""


class ConformanceItem(pytest.Item):
    def __init__(self, *, evaluation, **kwargs):
        super().__init__(**kwargs)
        self.evaluation = evaluation
        self.add_marker("conformance")
        self.add_marker(evaluation.binding.framework.name)

    def runtest(self) -> None:
        batch = self.config.stash.get(_BATCH, None)
        result = (batch.result(self.evaluation) if batch is not None
                  else _evaluator(self.config).evaluate(self.evaluation))
        self.user_properties.append(("status", result.status))
        self.user_properties.append(("grad_status", result.grad_status))
        if result.status in ("fail", "error") or result.grad_status in ("fail", "error"):
            raise ConformanceFailure(result)
        if result.status == "skipped":
            pytest.skip(result.explanation)
        documented = [f"{result.status}: {result.explanation}"] * (result.status in ("known", "difference"))
        if result.grad_status == "known":
            documented.append(f"gradient known: {result.grad_explanation}")
        if documented:
            pytest.xfail("; ".join(documented))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style=None) -> str:
        if isinstance(excinfo.value, pytest.xfail.Exception):
            # pytest renders every exception before it sees an xfail, parsing the source of each
            # traceback entry: that was half the matrix's time under pytest (a third of its rows
            # are documented). An xfail's traceback says nothing; its reason is the report.
            return str(excinfo.value.msg)
        if not isinstance(excinfo.value, ConformanceFailure):
            return super().repr_failure(excinfo, style=style)
        result = excinfo.value.args[0]
        return "\n".join([
            f"{result.status.upper()}: {result.explanation}",
            f"  value  = {result.value}  ({result.value_dtype})",
            f"  oracle = {result.oracle}",
            *([f"GRADIENT {result.grad_status.upper()}: {result.grad_explanation}",
               f"  grad        = {result.grad}",
               f"  oracle grad = {result.grad_oracle}"] if result.grad_status else []),
            f"  case   = {result.file}:{result.line}",
            "  recipe (paste into Python to reproduce):",
            *("    " + line for line in result.recipe.splitlines()),
        ])

    def reportinfo(self):
        return self.path, max(self.evaluation.case.line - 1, 0), self.name


class UnexpressibleItem(pytest.Item):
    """A faithful case that no binding of a framework can express."""

    def __init__(self, *, row, **kwargs):
        super().__init__(**kwargs)
        self.row = row
        self.add_marker("conformance")
        self.add_marker(row.framework)

    def runtest(self) -> None:
        pytest.skip(self.row.explanation)

    def reportinfo(self):
        return self.path, max(self.row.line - 1, 0), self.name


class CaseFileError(Exception):
    pass


class CaseErrorItem(pytest.Item):
    """A malformed case: fails with its ``file:line:column: field: message``."""

    def __init__(self, *, error, **kwargs):
        super().__init__(**kwargs)
        self.error = error

    def runtest(self) -> None:
        raise CaseFileError(str(self.error))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style=None) -> str:
        return str(excinfo.value)

    def reportinfo(self):
        return self.path, self.error.line - 1, self.name
