"""The worker process: executes recipes for exactly one framework.

Run as ``python -m conformance.worker REFERENCE`` (the framework's entry-point
value, or a user adapter's reference), with the framework's environment already
set (see :mod:`conformance.process`), speaking on stdin and stdout; or as
``python -m conformance.worker --listen SOCKET IDLE_SECONDS REFERENCE``, a warm
worker that serves one run after another (see :mod:`conformance.warm`). It
speaks the typed protocol of :mod:`conformance.protocol`: first a
:class:`~conformance.protocol.Hello`
(ready, versions, device, or why it cannot start), then a
:class:`~conformance.protocol.Reply` to each recipe: the value of ``loss`` (and
``grad``) after executing it, or the exception it raised.

Anything the framework prints goes to stderr: the original stdout is kept
for the protocol alone.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import os
import resource
import sys
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any, TextIO

from conformance.binding import Framework
from conformance.number_text import encode
from conformance.protocol import Computed, Hello, Raised, RecipeRequest, Reply, WorkerState
from conformance.recipe import GRADIENT_MARKER
from conformance.recipe_guard import RecipeRefused, allowed_imports, check_recipe, restricted_builtins
from conformance.warm import Slot, same_user


def _versions(distributions: tuple[str, ...]) -> dict[str, str]:
    found = {}
    for name in distributions:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


def _hello(framework: Framework) -> tuple[Hello, Any]:
    """Start the framework: ``missing`` when a module it needs is not installed at all
    (its rows are skipped), ``broken`` when it is installed but fails to start (errors)."""
    name = framework.name
    missing = [m for m in framework.required_modules if importlib.util.find_spec(m) is None]
    if missing:
        return Hello(WorkerState.MISSING, reason=f"{name} is not installed (no module {', '.join(missing)})"), None
    try:
        module = importlib.import_module(framework.worker_module)
        module.setup()
        accelerators = list(module.accelerators()) if hasattr(module, "accelerators") else []
        return Hello(WorkerState.READY, _versions(framework.distributions), module.device(), accelerators), module
    except BaseException as exc:  # noqa: BLE001 - a framework that cannot start is reported, not raised
        return Hello(WorkerState.BROKEN, reason=f"{name} is installed but failed to start: "
                     f"{type(exc).__name__}: {str(exc)[:500]}"), None


def execute(recipe: str, module: Any, modules: frozenset[str] = frozenset({"numpy"})) -> Reply:
    """Run one recipe and report ``loss`` (and ``grad``, if it has a gradient part) or
    the exception each part raised. A recipe that holds anything the recipe writer
    does not produce (see :mod:`conformance.recipe_guard`) is refused, not run."""
    try:
        check_recipe(recipe, modules)
    except RecipeRefused as exc:
        return Reply(refused=str(exc))
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
            return Reply(Raised(type(exc).__name__, str(exc)[:2000]), warnings=_messages(caught))
        loss = namespace["loss"]
        # A failure here is the suite's, not the API's: let it surface as an internal error.
        value = Computed(encode(module.to_numpy(loss).tolist()), module.result_dtype(loss))
        grad = _gradient(grad_part, namespace, module) if grad_part else None
    return Reply(value, grad, printed=printed.getvalue().strip()[:2000], warnings=_messages(caught))


def _gradient(source: str, namespace: dict[str, Any], module: Any) -> Computed | Raised:
    """Run the gradient part after the loss; its failure leaves the value standing."""
    try:
        exec(compile(source, "<recipe gradient>", "exec"), namespace)
    except Exception as exc:
        return Raised(type(exc).__name__, str(exc)[:2000])
    grad = namespace.get("grad")
    if grad is None:
        return Raised("NoGradient", "the autodiff returned no gradient (the loss does not depend on the input)")
    return Computed(encode(module.to_numpy(grad).tolist()), module.result_dtype(grad))


def _messages(caught: list[warnings.WarningMessage]) -> list[str]:
    return sorted({f"{w.category.__name__}: {str(w.message).strip()[:300]}" for w in caught})


def serve(reference: str, requests: TextIO, replies: TextIO) -> None:
    """Answer requests for the framework declared at ``reference``: an entry point's value,
    or a user adapter's (:mod:`conformance.user_adapter`)."""
    framework = _framework(reference)
    hello, module = _hello(framework)
    _answer(hello, module, allowed_imports(framework.recipe_lines), requests, replies)


def listen(reference: str, slot: Slot, idle: float) -> None:
    """Stay warm: start the framework once, then answer one client after another on the
    slot's socket (:mod:`conformance.warm`) until no client has come for ``idle`` seconds.
    The process that binds the socket exits at once, leaving its child to serve: the run
    that started it learns the socket is there, and the worker is nobody's child to reap.
    A framework that cannot start says so to the first client and exits."""
    framework = _framework(reference)
    server = slot.bind()
    if os.fork() > 0:  # one thread, no framework imported yet: a safe fork
        os._exit(0)
    server.listen(8)
    slot.describe(framework.name, idle)
    try:
        hello, module = _hello(framework)
        modules = allowed_imports(framework.recipe_lines)
        while (connection := slot.accept(server, idle)) is not None:
            with connection:
                if not same_user(connection):
                    continue
                requests = connection.makefile("r", encoding="utf-8")
                replies = connection.makefile("w", encoding="utf-8")
                try:
                    _answer(hello, module, modules, requests, replies)
                except OSError:
                    pass  # the client went away (its run ended or was stopped): wait for the next
            if not hello.ready:
                slot.clear()  # the client that heard why still holds the slot's lock
                return
            if _peak_memory() > MAX_WARM_MEMORY and slot.retire():  # its caches have grown: leave
                return
    finally:
        server.close()


# A warm worker past this peak resident size leaves after its client rather than wait:
# the frameworks' caches (JAX's executables, say) grow with every new shape they see.
MAX_WARM_MEMORY = 2 << 30


def _peak_memory() -> int:
    """This process's peak resident size in bytes (Linux reports kibibytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _framework(reference: str) -> Framework:
    from conformance.frameworks import resolve
    from conformance.user_adapter import ADAPTER_PREFIX, framework_for

    return framework_for(reference) if reference.startswith(ADAPTER_PREFIX) else resolve(reference)


def _answer(hello: Hello, module: Any, modules: frozenset[str], requests: TextIO, replies: TextIO) -> None:
    _send(replies, hello)
    if not hello.ready:
        return
    for line in requests:
        if line.strip():
            _send(replies, execute(RecipeRequest.from_json(line).recipe, module, modules))


def _send(stream: TextIO, message: Hello | Reply) -> None:
    stream.write(message.to_json() + "\n")
    stream.flush()


def main() -> None:
    if sys.argv[1] == "--listen":  # --listen SOCKET IDLE_SECONDS REFERENCE
        os.dup2(2, 1)
        listen(sys.argv[4], Slot(Path(sys.argv[2])), float(sys.argv[3]))
        return
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    serve(sys.argv[1], sys.stdin, replies)


if __name__ == "__main__":
    main()
