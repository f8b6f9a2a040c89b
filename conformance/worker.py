"""The worker process: executes recipes for exactly one framework.

Run as ``python -m conformance.worker FRAMEWORK``, with the framework's
environment already set (see :mod:`conformance.process`). It speaks JSON
lines: it first writes a hello (``ready``, versions, device, or the reason it
cannot start), then answers each ``{"recipe": ...}`` request with the value
of ``loss`` after executing the recipe, or the exception it raised.

Anything the framework prints goes to stderr: the original stdout is kept
for the protocol alone.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import json
import os
import sys
import warnings
from importlib import metadata
from typing import Any, TextIO

from conformance.binding import Framework
from conformance.dtypes import encode
from conformance.recipe import GRADIENT_MARKER
from conformance.recipe_guard import RecipeRefused, allowed_imports, check_recipe, restricted_builtins


def _versions(distributions: tuple[str, ...]) -> dict[str, str]:
    found = {}
    for name in distributions:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


def _hello(framework: Framework) -> tuple[dict[str, Any], Any]:
    """Start the framework: ``missing`` when a module it needs is not installed at all
    (its rows are skipped), ``broken`` when it is installed but fails to start (errors)."""
    name = framework.name
    missing = [m for m in framework.required_modules if importlib.util.find_spec(m) is None]
    if missing:
        return {"ready": False, "state": "missing",
                "reason": f"{name} is not installed (no module {', '.join(missing)})"}, None
    try:
        module = importlib.import_module(framework.worker_module)
        module.setup()
        accelerators = module.accelerators() if hasattr(module, "accelerators") else []
        return {"ready": True, "versions": _versions(framework.distributions),
                "device": module.device(), "accelerators": accelerators}, module
    except BaseException as exc:  # noqa: BLE001 - a framework that cannot start is reported, not raised
        return {"ready": False, "state": "broken", "reason": f"{name} is installed but failed to "
                f"start: {type(exc).__name__}: {str(exc)[:500]}"}, None


def execute(recipe: str, module: Any, modules: frozenset[str] = frozenset({"numpy"})) -> dict[str, Any]:
    """Run one recipe and report ``loss`` (and ``grad``, if it has a gradient part) or
    the exception each part raised. A recipe that holds anything the recipe writer
    does not produce (see :mod:`conformance.recipe_guard`) is refused, not run."""
    try:
        check_recipe(recipe, modules)
    except RecipeRefused as exc:
        return {"ok": False, "refused": str(exc)}
    if hasattr(module, "before_recipe"):  # undo process-wide state an earlier recipe set
        module.before_recipe()
    loss_part, _, grad_part = recipe.partition(GRADIENT_MARKER)
    namespace: dict[str, Any] = {"__name__": "__recipe__", "__builtins__": restricted_builtins()}
    with warnings.catch_warnings(record=True) as caught, \
            contextlib.redirect_stdout(io.StringIO()) as printed:
        warnings.simplefilter("always")
        try:
            exec(compile(loss_part, "<recipe>", "exec"), namespace)
        except Exception as exc:
            return {"ok": False, "exception": type(exc).__name__, "message": str(exc)[:2000],
                    "warnings": _messages(caught)}
        loss = namespace["loss"]
        # A failure here is the suite's, not the API's: let it surface as an internal error.
        reply = {"ok": True, "value": encode(module.to_numpy(loss).tolist()),
                 "dtype": module.result_dtype(loss)}
        if grad_part:
            reply.update(_gradient(grad_part, namespace, module))
    return {**reply, "printed": printed.getvalue().strip()[:2000], "warnings": _messages(caught)}


def _gradient(source: str, namespace: dict[str, Any], module: Any) -> dict[str, Any]:
    """Run the gradient part after the loss; its failure leaves the value standing."""
    try:
        exec(compile(source, "<recipe gradient>", "exec"), namespace)
    except Exception as exc:
        return {"grad_exception": type(exc).__name__, "grad_message": str(exc)[:2000]}
    grad = namespace.get("grad")
    if grad is None:
        return {"grad_exception": "NoGradient",
                "grad_message": "the autodiff returned no gradient (the loss does not depend on the input)"}
    return {"grad": encode(module.to_numpy(grad).tolist()), "grad_dtype": module.result_dtype(grad)}


def _messages(caught: list[warnings.WarningMessage]) -> list[str]:
    return sorted({f"{w.category.__name__}: {str(w.message).strip()[:300]}" for w in caught})


def serve(reference: str, requests: TextIO, replies: TextIO) -> None:
    """Answer requests for the framework declared at ``reference``: an entry point's value,
    or a user adapter's (:mod:`conformance.user_adapter`)."""
    from conformance.frameworks import resolve
    from conformance.user_adapter import ADAPTER_PREFIX, framework_for

    framework = framework_for(reference) if reference.startswith(ADAPTER_PREFIX) else resolve(reference)
    hello, module = _hello(framework)
    _send(replies, hello)
    if not hello["ready"]:
        return
    modules = allowed_imports(framework.recipe_lines)
    for line in requests:
        if line.strip():
            _send(replies, execute(json.loads(line)["recipe"], module, modules))


def _send(stream: TextIO, message: dict[str, Any]) -> None:
    stream.write(json.dumps(message, allow_nan=False) + "\n")
    stream.flush()


def main() -> None:
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    serve(sys.argv[1], sys.stdin, replies)


if __name__ == "__main__":
    main()
