"""The Python examples of the README and of docs/*.md run as written (each page's blocks in
order, in one namespace, from a scratch folder holding a copy of docs/), and what they claim
holds."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", ROOT / "docs" / "derivations.md", ROOT / "docs" / "custom-ops.md"]


def blocks(page: Path) -> list[str]:
    """The page's ```python blocks, less excerpts that are not meant to run on their own (a
    block that uses names it never defines, marked by starting with `def loss`)."""
    found = re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), re.S)
    return [b for b in found if not b.startswith("def loss")]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_the_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    (tmp_path / "my_derivation.py").write_text(
        (ROOT / "docs" / "my_derivation.py").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "my_derivation.md").write_text(
        (ROOT / "docs" / "my_derivation.md").read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code = blocks(page)
    assert code
    namespace: dict = {}
    for block in code:
        exec(compile(block, f"{page.name} example", "exec"), namespace)
    if page.name == "README.md":
        import autograd_lite as al
        import autograd_lite.verify

        x = namespace["x"]
        s = 1 / (1 + np.exp(-x.data))
        np.testing.assert_allclose(x.grad, s * (1 - s), rtol=1e-12)
        assert float(np.asarray(namespace["h"])) == pytest.approx(12.0)
        assert namespace["reports"].passed is False and namespace["reports"].errors == []
        assert (tmp_path / "report" / "index.html").is_file()
        report = namespace["report"]
        assert isinstance(report, al.verify.DerivationReport) and report.passed
        assert (tmp_path / "loss.svg").is_file()
        # the NumPy-written Gaussian NLL at L = I (Σ = 2I): ∂/∂μ = −Σ_n Σ⁻¹(x_n − μ) = −Σ_n x_n / 2
        np.testing.assert_allclose(namespace["mu"].grad, -namespace["X"].sum(axis=0) / 2,
                                   rtol=1e-12)
        v, f = namespace["v"], namespace["f"]
        np.testing.assert_allclose(al.func.grad(f)(v),
                                   2 * np.tanh(v) * (1 - np.tanh(v) ** 2), rtol=1e-12)
    if page.name == "custom-ops.md":
        np.testing.assert_array_equal(namespace["b"].grad, np.full(3, 0.5))
        z = namespace["z"]
        np.testing.assert_allclose(z.grad, 1 / (1 + np.exp(-z.data)), rtol=1e-12)
        lib, softsign, x = namespace["al"], namespace["softsign"], np.linspace(-3.0, 3.0, 7)
        np.testing.assert_allclose(lib.func.grad(lambda t: lib.sum(softsign(t)))(x),
                                   1 / (1 + np.abs(x)) ** 2, rtol=1e-12)  # the closed form
        compiled = lib.compile(lib.func.grad(lambda t: lib.sum(softsign(t * 2.0))))
        assert "softsign_forward(mul, out=mul)" in compiled.source_for(x)
