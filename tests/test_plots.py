"""plots: the figure families draw and compute nothing, so they import no theory, sampling or experiments module
(the figure scripts compute and pass what they draw), and the package imports none of its families (a figure
script depends, through code_version, on the family it imports alone)."""

import ast
import subprocess
import sys
from pathlib import Path

PLOTS = Path(__file__).resolve().parents[1] / "src" / "nnft" / "plots"
LOWER_LAYERS = ("nnft.theory", "nnft.sampling", "nnft.experiments")


def imported_modules(path: Path) -> set[str]:
    """Absolute names of every module a file of nnft.plots imports, with `from m import x` counted as m and m.x."""
    package = "nnft.plots"
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join(parts + ([node.module] if node.module else []))
            names.add(module)
            names.update(f"{module}.{a.name}" for a in node.names)
    return names


def test_imported_modules_resolves_absolute_and_relative_imports(tmp_path):
    f = tmp_path / "f.py"
    f.write_text("import nnft.theory.kernels\nfrom .. import sampling\nfrom ..experiments.survey import g\n")
    assert {"nnft.theory.kernels", "nnft.sampling", "nnft.experiments.survey"} <= imported_modules(f)


def test_no_family_imports_theory_sampling_or_experiments():
    files = sorted(PLOTS.glob("*.py"))
    assert {f.stem for f in files} >= {"__init__", "style", "learning_curves", "finite_width", "finite_width_bayes"}
    hits = {
        f"{f.name}: {m}"
        for f in files
        for m in imported_modules(f)
        if any(m == lower or m.startswith(lower + ".") for lower in LOWER_LAYERS)
    }
    assert not hits, sorted(hits)


def test_package_is_a_docstring_only():
    body = ast.parse((PLOTS / "__init__.py").read_text()).body
    assert len(body) == 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value.value, str)


def test_importing_every_family_loads_no_lower_layer():
    families = [f"nnft.plots.{f.stem}" for f in sorted(PLOTS.glob("*.py")) if f.stem != "__init__"]
    code = (
        f"import importlib, sys\nfor m in {families!r}:\n    importlib.import_module(m)\n"
        f"print(sorted(m for m in sys.modules if m.startswith({LOWER_LAYERS!r})))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
