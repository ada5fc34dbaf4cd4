"""The modules of `postoffice.imap` import each other without a cycle (docs/architecture.md: a session that
keeps state and dispatches, commands beside it that never reach back into it).

Every import counts: at module level, inside functions, and under `if TYPE_CHECKING:`, since a
lazy or type-only import back into the session is the cycle this test is here to keep out.
"""

from __future__ import annotations

import ast
from pathlib import Path

import postoffice.imap

PACKAGE = "postoffice.imap"
ROOT = Path(postoffice.imap.__file__).parent


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([PACKAGE, *parts])


def imported(tree: ast.Module, name: str, is_package: bool, modules: set[str]) -> set[str]:
    """The `postoffice.imap` modules that `name` imports anywhere in its source."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against the importing module's package
                package = name.split(".") if is_package else name.split(".")[:-1]
                package = package[:len(package) - (node.level - 1)]
                base = ".".join(package + ([base] if base else []))
            # `from a import b` imports the module a.b when there is one, else names of a.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for target in targets:
            # `import a.b.c` names a.b.c; keep the longest prefix that is one of our modules.
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    paths = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    modules = set(paths)
    return {name: imported(ast.parse(path.read_text(encoding="utf-8")), name, path.name == "__init__.py", modules)
            for name, path in paths.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` as the modules along it (first repeated at the end), or None."""
    done: set[str] = set()
    path: list[str] = []
    on_path: set[str] = set()

    def visit(node: str) -> list[str] | None:
        path.append(node)
        on_path.add(node)
        for following in sorted(graph.get(node, ())):
            if following in on_path:
                return path[path.index(following):] + [following]
            if following not in done and (cycle := visit(following)) is not None:
                return cycle
        path.pop()
        on_path.discard(node)
        done.add(node)
        return None

    for start in sorted(graph):
        if start not in done and (cycle := visit(start)) is not None:
            return cycle
    return None


def test_the_imap_package_has_no_import_cycle():
    graph = import_graph()
    assert "postoffice.imap.session" in graph and "postoffice.imap.commands.messages" in graph
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_a_lazy_or_type_only_import_counts(tmp_path):
    # The checker itself: an import inside a function or under TYPE_CHECKING closes a cycle.
    package = tmp_path / "imap"
    (package / "commands").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "commands" / "__init__.py").write_text("")
    (package / "session.py").write_text("from postoffice.imap.commands import fetch\n")
    (package / "commands" / "fetch.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from postoffice.imap.session import S\n")
    (package / "commands" / "store.py").write_text("def run():\n    from .. import session\n")
    graph = import_graph(package)
    assert graph["postoffice.imap.commands.fetch"] == {"postoffice.imap.session"}
    assert graph["postoffice.imap.commands.store"] == {"postoffice.imap.session"}
    assert find_cycle(graph) == ["postoffice.imap.commands.fetch", "postoffice.imap.session",
                                 "postoffice.imap.commands.fetch"]
