"""``evalbot validate`` for a ``python`` provider: is ``target`` (``package.module:function``)
importable from the repository root, without importing it (validate runs none of the user's code).

The worker imports the target with the repository root as ``sys.path[0]``, then the installed
packages. So the module must be a file under the root (``app/answer.py``,
``app/answer/__init__.py``) or an installed top-level package; a module in the repository is
also parsed (not run) to see that it defines the function.
"""

from __future__ import annotations

import ast
import importlib.util

from evalbot.inputs.tree import FileTree

__all__ = ["target_problem"]


def target_problem(tree: FileTree, target: str) -> str | None:
    """Why ``target`` cannot be loaded, or None when it looks loadable."""
    module, _, attr = target.partition(":")
    parts = module.split(".")
    if not module or not attr or not all(p.isidentifier() for p in parts):
        return f"target {target!r} is not 'package.module:function'"
    path = "/".join(parts)
    for candidate in (f"{path}.py", f"{path}/__init__.py"):
        if tree.exists(candidate):
            return _attribute_problem(tree.read_text(candidate), attr, candidate)
    top = parts[0]
    if tree.exists(f"{top}.py") or tree.exists(f"{top}/__init__.py"):
        return f"module {module!r} is not in the repository (no {path}.py or {path}/__init__.py)"
    try:
        installed = importlib.util.find_spec(top) is not None  # top level: imports nothing
    except (ImportError, ValueError):
        installed = False
    if installed:
        return None
    return (
        f"module {module!r} cannot be imported: no {path}.py or {path}/__init__.py in the "
        f"repository, and no installed package {top!r}"
    )


def _attribute_problem(source: str, attr: str, path: str) -> str | None:
    try:
        module = ast.parse(source, filename=path)
    except SyntaxError as exc:
        return f"{path} does not parse: {exc.msg} at line {exc.lineno}"
    names = _top_level_names(module.body)
    if names is None or "__getattr__" in names:
        return None  # a star import or a module __getattr__: cannot tell without running it
    name = attr.split(".")[0]
    return None if name in names else f"{path} defines no {name!r} at its top level"


def _top_level_names(body: list[ast.stmt]) -> set[str] | None:
    """Names a module body binds (inside top-level if/try/with too); None on a star import."""
    names: set[str] = set()
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            if any(alias.name == "*" for alias in node.names):
                return None
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.If | ast.Try | ast.With):
            blocks = [getattr(node, f, []) for f in ("body", "orelse", "finalbody")]
            blocks += [h.body for h in getattr(node, "handlers", [])]
            for block in blocks:
                inner = _top_level_names(block)
                if inner is None:
                    return None
                names |= inner
    return names
