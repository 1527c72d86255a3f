"""The layering guards: read every module of `exchange`, `por` and `cli` with `ast` (nothing is
imported or run) and refuse

1. a private module of another package: a module whose dotted name has a part starting
   with `_` (`por._input`, `por.log._rfc9162`) is private to the package that holds that
   part (`por`, `por.log`); it may be imported only from inside that package and its
   subpackages (so `por._input` serves every `por.*` module, `por.log._rfc9162` only
   `por.log.*`, and neither serves `cli`). Type-only imports count too: they tie the code
   just the same. Tests and benchmarks are not checked (they test private parts on
   purpose);
2. an import cycle between modules: the run-time imports (at module level or inside a
   function; `if TYPE_CHECKING:` blocks are left out, they never run) must form no
   cycle, so each module can be read knowing only what it imports;
3. an import cycle between packages that are not nested: `exchange.margin` may use
   `exchange.matching` or the reverse, not both (a package and its own subpackages are
   layers of one package, covered by rule 2);
4. inside `exchange`, rules 2 and 3 with the type-only imports counted too: the engine's
   modules read top-down even for their types (`exchange.registry` names no type of the
   engine that builds on it).

`ALLOWED_PRIVATE` lists the imports that break rule 1 today, each with why it is not fixed
yet: every entry is a defect to remove (delete it with the import it excuses); any other
such import fails.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("exchange", "por", "cli")

# (importer, imported private module): why it is still there
ALLOWED_PRIVATE: dict[tuple[str, str], str] = {}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


@cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


@cache
def _imports(module: str, *, typing_too: bool) -> tuple[tuple[str, int], ...]:
    """(imported module of ours, line) for every import statement of `module`."""
    return tuple(_read_imports(module, typing_too=typing_too))


def _read_imports(module: str, *, typing_too: bool) -> Iterator[tuple[str, int]]:
    modules = _modules()
    path = modules[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = _tree(path)

    def walk(node: ast.AST) -> Iterator[tuple[str, int]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child) and not typing_too:
                for stmt in child.orelse:
                    yield from walk_stmt(stmt)
                continue
            yield from walk_stmt(child)

    def walk_stmt(node: ast.AST) -> Iterator[tuple[str, int]]:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                yield (sub if sub in modules else target), node.lineno
        else:
            yield from walk(node)

    for target, line in walk(tree):
        if target in modules and target != module:
            yield target, line


def _private_owner(module: str) -> str | None:
    """The package a private module belongs to (None: the module is public)."""
    parts = module.split(".")
    for i, part in enumerate(parts):
        if part.startswith("_"):
            return ".".join(parts[:i])
    return None


def _private_imports() -> dict[tuple[str, str], str]:
    found = {}
    for module in _modules():
        for target, line in _imports(module, typing_too=True):
            owner = _private_owner(target)
            if owner is None or module == owner or module.startswith(owner + "."):
                continue
            found.setdefault((module, target), f"{_modules()[module].relative_to(ROOT)}:{line}")
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def _graph(*, typing_too: bool = False, within: str = "") -> dict[str, set[str]]:
    """Module -> the modules it imports; `within`: only modules of that package."""

    def inside(module: str) -> bool:
        return not within or module == within or module.startswith(within + ".")

    return {
        m: {t for t, _ in _imports(m, typing_too=typing_too) if inside(t)}
        for m in _modules()
        if inside(m)
    }


def _runtime_graph() -> dict[str, set[str]]:
    return _graph()


def _package(module: str) -> str:
    return module if _modules()[module].name == "__init__.py" else module.rpartition(".")[0]


def _nested(a: str, b: str) -> bool:
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


def _describe(component: list[str], graph: dict[str, set[str]]) -> str:
    members = set(component)
    edges = [f"{a} -> {b}" for a in component for b in sorted(graph[a] & members)]
    return "; ".join(edges)


def test_no_module_imports_a_private_module_of_another_package() -> None:
    found = _private_imports()
    new = {key: where for key, where in found.items() if key not in ALLOWED_PRIVATE}
    assert not new, "private modules imported from outside their package: " + ", ".join(
        f"{where} {a} -> {b}" for (a, b), where in sorted(new.items())
    )


def test_the_import_graph_of_modules_has_no_cycle() -> None:
    graph = _runtime_graph()
    cycles = _cycles(graph)
    assert not cycles, "import cycles: " + " | ".join(_describe(c, graph) for c in cycles)


def _package_graph(modules: dict[str, set[str]]) -> dict[str, set[str]]:
    """Package -> the packages (not nested in it) its modules import."""
    graph: dict[str, set[str]] = {}
    for module, targets in modules.items():
        a = _package(module)
        for target in targets:
            b = _package(target)
            if not _nested(a, b):
                graph.setdefault(a, set()).add(b)
    return graph


def test_packages_that_are_not_nested_do_not_import_each_other() -> None:
    graph = _package_graph(_runtime_graph())
    cycles = _cycles(graph)
    assert not cycles, "package cycles: " + " | ".join(_describe(c, graph) for c in cycles)


def test_the_exchange_has_no_import_cycle_even_through_type_only_imports() -> None:
    modules = _graph(typing_too=True, within="exchange")
    assert "exchange.registry" in modules["exchange.engine"]  # the guard sees the edges
    for graph in (modules, _package_graph(modules)):
        cycles = _cycles(graph)
        assert not cycles, "import cycles counting type-only imports: " + " | ".join(
            _describe(c, graph) for c in cycles
        )


def test_the_guards_see_a_cycle_and_a_private_import_when_there_is_one() -> None:
    """The checks can fail: a made-up graph with a cycle is caught, and the owner rule
    refuses `cli` reaching into `por._input` while `por.audit` may use it."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
    assert _private_owner("por._input") == "por"
    assert _private_owner("por.log._rfc9162") == "por.log"
    assert _private_owner("por.log.head") is None
    assert _modules(), "no module found: the guard would check nothing"
    assert any(t == "por._input" for m in _modules() for t, _ in _imports(m, typing_too=True))
