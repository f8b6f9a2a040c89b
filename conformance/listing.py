"""``conformance list``: what is installed, and where each framework comes from."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import metadata
from typing import TYPE_CHECKING

from conformance import families
from conformance import frameworks as registry

if TYPE_CHECKING:
    from conformance.binding import Framework


def _version(distributions: tuple[str, ...]) -> str:
    for name in distributions:
        try:
            return f"{name} {metadata.version(name)}"
        except metadata.PackageNotFoundError:
            continue
    return "not installed" if distributions else "-"


def _frameworks(match: str | None = None) -> Iterator[tuple[str, str, Framework | None]]:
    """Each registered framework whose name contains ``match``: its name, its version and origin
    in words (or why it is broken), and its declaration (None when broken)."""
    for name, registration in registry.registrations().items():
        if not _matches(name, match):
            continue
        origin = f"from {registration.distribution} {registration.version} ({registration.reference})"
        if registration.problem:
            yield name, f"BROKEN {origin}: {registration.problem}", None
            continue
        framework = registry.framework(name)
        yield name, f"{_version(framework.distributions):24} {len(framework.bindings):3} bindings  {origin}", framework


def format_listing() -> str:
    """Every registered framework (its origin, version and bindings), then the loss families."""
    lines = ["Frameworks (entry-point group loss_conformance.frameworks):"]
    for name, text, framework in _frameworks():
        lines.append(f"  {name:12} {text}")
        for binding in framework.bindings if framework else ():
            lines.append(f"      {binding.id:55} {binding.loss}")
    lines.append("Loss families (built in, and the entry-point group loss_conformance.families):")
    for reference, problem in families.problems().items():
        lines.append(f"  BROKEN {reference}: {problem}")
    for family in families.families():
        kinds = f"input {' | '.join(family.inputs)}; target {' | '.join(family.targets)}"
        options = ", ".join(family.options.model_fields) or "no options"
        lines.append(f"  {family.name:22} {kinds}; {options}")
        if family.definition:
            lines.append(f"  {'':22} {family.definition}")
    return "\n".join(lines)


def _matches(text: str, match: str | None) -> bool:
    return match is None or match.lower() in text.lower()


def format_frameworks(match: str | None = None) -> str:
    """One line per framework: its version, how many bindings it has, where it comes from."""
    return "\n".join(f"{name:12} {text}" for name, text, _ in _frameworks(match)) or "no framework matches"


def format_bindings(framework: str | None = None, loss: str | None = None, match: str | None = None) -> str:
    """One line per binding (id, loss), filtered by framework, loss family and a text in the id."""
    lines = [f"{binding_id:58} {binding.loss}" for binding_id, binding in registry.all_bindings().items()
             if (framework is None or binding.framework.name == framework)
             and (loss is None or binding.loss == loss) and _matches(binding_id, match)]
    return "\n".join(lines) or "no binding matches"


def format_losses(match: str | None = None) -> str:
    """One line per loss family: what it takes and its options."""
    lines = []
    for family in families.families():
        if _matches(family.name, match):
            options = ", ".join(family.options.model_fields) or "no options"
            lines.append(f"{family.name:22} input {' | '.join(family.inputs)}; target "
                         f"{' | '.join(family.targets)}; {options}")
    return "\n".join(lines) or "no loss family matches"


def format_cases(paths: list[str], loss: str | None = None, match: str | None = None,
                 mode: str | None = None) -> tuple[str, list]:
    """One line per case (id, loss, mode, file:line, title), and the load errors met on the way."""
    from conformance.loader import load_cases

    loaded = load_cases(paths)
    lines = [f"{case.id:48} {case.loss:22} {case.mode:9} {case.file}:{case.line}  {case.title or ''}".rstrip()
             for case in loaded.cases
             if (loss is None or case.loss == loss) and (mode is None or case.mode == mode)
             and (_matches(case.id, match) or _matches(case.title or "", match))]
    return "\n".join(lines) or "no case matches", loaded.errors
