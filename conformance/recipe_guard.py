"""The second line of defence: a recipe runs only if it looks like one the writer makes.

The first line is by construction: a recipe is written from validated, typed
values only (numbers, enum members, binding ids from the registry), never
from text a case file supplied. This module checks the finished text anyway,
in the worker, right before it is executed: it is parsed with :mod:`ast` and
every node must be of a kind the recipe writer produces.

What a recipe may contain: imports of the framework's own modules (the lines
its :class:`~conformance.binding.Framework` declares, and NumPy), assignments,
``with`` blocks (TensorFlow's tape), one helper function (``loss_of``) and
lambdas, calls of framework APIs and of names the recipe defined, arithmetic
and comparisons, and literals: numbers, ``None``/``True``/``False``,
``...``, and short words (dtype names, reductions, devices). Names must be
imported, defined in the recipe, or one of :data:`BUILTINS`. Private and
dunder attributes and the attributes that reach the operating system, files,
pickles or Python's own evaluation are refused. The recipe then runs with
:func:`restricted_builtins`, so ``exec``, ``open`` and the rest do not even
exist for it.
"""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Iterable

NODES: frozenset[type] = frozenset({
    ast.Module, ast.Import, ast.alias, ast.Assign, ast.Expr, ast.With, ast.withitem,
    ast.FunctionDef, ast.arguments, ast.arg, ast.Return, ast.Lambda,
    ast.Call, ast.keyword, ast.Attribute, ast.Name, ast.Load, ast.Store, ast.Constant,
    ast.List, ast.Tuple, ast.Subscript, ast.UnaryOp, ast.USub, ast.BinOp, ast.Add, ast.Sub,
    ast.Mult, ast.Div, ast.Compare, ast.Eq, ast.NotEq,
})
BUILTINS = frozenset({"print", "float"})
# Framework attributes that leave the computation: the OS, files, pickles, eval.
FORBIDDEN_ATTRIBUTES = frozenset({
    "system", "popen", "spawn", "exec", "eval", "compile", "open", "load", "loads", "load_model",
    "load_library", "load_weights", "save", "savez", "savetxt", "tofile", "fromfile", "loadtxt",
    "genfromtxt", "write_file", "read_file", "hub", "ctypeslib", "ctypes", "os", "sys",
    "subprocess", "builtins", "pickle", "py_function", "numpy_function", "environ",
    "import_module", "getattr", "setattr", "delattr", "globals", "locals", "vars",
    "breakpoint", "input", "exit", "quit", "remove", "unlink", "rmtree", "rename", "run",
    "check_output", "Popen", "script", "cpp_extension", "utils", "lib", "distutils", "testing",
    "memmap", "dump", "dumps", "package", "io", "loadmat", "savemat", "fromregex", "serialization",
    "multiprocessing", "distributed", "PackageImporter",
})
# Every name Python provides without an import: a recipe may not rebind one.
PYTHON_BUILTINS = frozenset(dir(builtins))
WORD = re.compile(r"^[A-Za-z0-9_.+\-]{0,40}$")


class RecipeRefused(ValueError):
    """A recipe with something the recipe writer never produces; it is not run."""

    def __init__(self, reason: str, line: int):
        super().__init__(f"line {line}: {reason}")
        self.reason, self.line = reason, line


def allowed_imports(lines: Iterable[str]) -> frozenset[str]:
    """The modules a framework's own recipe lines import (``import jax.numpy as jnp``
    gives ``jax.numpy``), plus NumPy, which drawn arrays use."""
    modules = {"numpy"}
    for line in lines:
        for statement in line.split(";"):
            if statement.strip().startswith("import "):
                for node in ast.walk(ast.parse(statement.strip())):
                    if isinstance(node, ast.Import):
                        modules.update(alias.name for alias in node.names)
    return frozenset(modules)


def check_recipe(source: str, modules: frozenset[str]) -> None:
    """Raise :class:`RecipeRefused` unless ``source`` only holds what a recipe may hold."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise RecipeRefused(f"not valid Python ({type(exc).__name__})", getattr(exc, "lineno", 0) or 0) from None
    defined = set(BUILTINS)
    for node in _in_order_of_evaluation(tree):
        _check_node(node, modules, frozenset(defined))
        defined.update(_names_bound(node))


def _in_order_of_evaluation(tree: ast.AST) -> Iterable[ast.AST]:
    """Every node, without recursion (array literals nest deeply), an assignment's value
    before its targets, so a name is known only once something has bound it."""
    pending = [tree]
    while pending:
        node = pending.pop()
        yield node
        children = list(ast.iter_child_nodes(node))
        if isinstance(node, ast.Assign):
            children = [node.value, *node.targets]
        pending.extend(reversed(children))


def _names_bound(node: ast.AST) -> Iterable[str]:
    if isinstance(node, ast.Import):
        return [alias.asname or alias.name.split(".")[0] for alias in node.names]
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
        return [node.id]
    if isinstance(node, ast.FunctionDef):
        return [node.name]
    if isinstance(node, ast.arg):
        return [node.arg]
    return []


def restricted_builtins() -> dict[str, object]:
    """The builtins a recipe runs with: the two names it may use, and ``__import__``,
    which its checked import lines need - and which a framework's C code calls while
    a recipe's frame is current (PyTorch imports ``torch.storage`` so), so it cannot
    be narrowed here; the recipe's own imports are checked before it runs."""
    return {"print": print, "float": float, "__import__": builtins.__import__}


def _check_node(node: ast.AST, modules: frozenset[str], defined: frozenset[str]) -> None:
    line = getattr(node, "lineno", 0)
    if type(node) not in NODES:
        raise RecipeRefused(f"{type(node).__name__} is not something a recipe contains", line)
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name not in modules:
                raise RecipeRefused(f"imports {alias.name!r}, which is not one of the framework's "
                                    f"modules ({', '.join(sorted(modules))})", line)
    elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
        if node.id.startswith("_") or node.id in PYTHON_BUILTINS:
            raise RecipeRefused(f"rebinds the name {node.id!r}", line)
    elif isinstance(node, ast.Name):
        if node.id.startswith("_") or node.id not in defined:
            raise RecipeRefused(f"uses the name {node.id!r}, which the recipe neither imports nor defines",
                                line)
    elif isinstance(node, ast.Attribute):
        if node.attr.startswith("_") or node.attr in FORBIDDEN_ATTRIBUTES:
            raise RecipeRefused(f"reaches the attribute {node.attr!r}", line)
    elif isinstance(node, ast.Constant):
        _check_constant(node.value, line)
    elif isinstance(node, ast.FunctionDef):
        if node.decorator_list or node.returns or node.name.startswith("_") or node.name in PYTHON_BUILTINS:
            raise RecipeRefused(f"defines the function {node.name!r} with decorations", line)
    elif isinstance(node, ast.arg) and (node.arg.startswith("_") or node.arg in PYTHON_BUILTINS):
        raise RecipeRefused(f"rebinds the name {node.arg!r}", line)
    elif isinstance(node, ast.arguments):
        if node.defaults or node.kw_defaults or node.vararg or node.kwarg:
            raise RecipeRefused("a function with default or variable arguments", line)


def _check_constant(value: object, line: int) -> None:
    if value is None or value is Ellipsis or isinstance(value, (bool, int, float)):
        return
    if isinstance(value, str) and WORD.match(value):
        return
    raise RecipeRefused(f"holds the literal {repr(value)[:60]}, which is not a number or a short word",
                        line)
