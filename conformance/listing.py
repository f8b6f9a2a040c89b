"""``conformance list``: what is installed, and where each framework comes from."""

from __future__ import annotations

from importlib import metadata

from conformance import families
from conformance import frameworks as registry


def _version(distributions: tuple[str, ...]) -> str:
    for name in distributions:
        try:
            return f"{name} {metadata.version(name)}"
        except metadata.PackageNotFoundError:
            continue
    return "not installed" if distributions else "-"


def format_listing() -> str:
    """Every registered framework (its origin, version and bindings), then the loss families."""
    lines = ["Frameworks (entry-point group loss_conformance.frameworks):"]
    for name, registration in registry.registrations().items():
        origin = f"from {registration.distribution} {registration.version} ({registration.reference})"
        if registration.problem:
            lines.append(f"  {name:12} BROKEN {origin}: {registration.problem}")
            continue
        framework = registry.framework(name)
        lines.append(f"  {name:12} {_version(framework.distributions)}; {origin}")
        for binding in framework.bindings:
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
