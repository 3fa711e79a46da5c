"""Loading and running derivation files: every failure is an error for that file or derivation
(exit 2) with its documented message, and the files after it are still checked; --json is
strict JSON on stdout and nothing else."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autograd_lite.cli import main
from autograd_lite.verify import verify_paths

ROOT = Path(__file__).resolve().parent.parent
RIGHT = (Path(__file__).resolve().parent / "derivation_files" / "right.py").read_text()
RIGHT_NAME = "PASS  d/dx Σ x² = 2x"

HEADER = ("import numpy as np\nimport autograd_lite as al\n"
          "from autograd_lite.verify import Derivation\n")


def derivation(name: str, loss: str = "(x * x).sum()", gradient: str = "2 * x",
               inputs: str = "{'x': np.array([1.0, -2.0, 0.5])}", extra: str = "") -> str:
    """The source of a file with one Derivation of a loss of x."""
    return (HEADER + extra + f"\nD = Derivation(name={name!r}, inputs={inputs},\n"
            f"    loss=lambda x: {loss}, gradients={{'x': lambda x: {gradient}}})\n")


def run_cli(tmp_path: Path, files: dict[str, str | bytes], *options: str,
            capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Write ``files`` into a folder, add the right derivation after them (zz_right.py), run
    ``verify`` on the folder and return the exit status, stdout and stderr."""
    folder = tmp_path / "derivs"
    folder.mkdir(exist_ok=True)
    for name, content in {**files, "zz_right.py": RIGHT}.items():
        path = folder / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    status = main(["verify", str(folder), *options])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize(("files", "message"), [
    ({"a_exit.py": HEADER + "import sys\nsys.exit(0)\n"}, "called sys.exit(0) while loading"),
    ({"a_raise.py": HEADER + "raise RuntimeError('boom')\n"},
     "running it raised RuntimeError: boom"),
    ({"a_latin1.py": b"# caf\xe9\nx = 1\n"}, "is not valid UTF-8 Python source"),
    ({"a_formula_exit.py": derivation("exits", gradient="__import__('sys').exit(3)")},
     "called sys.exit(3)"),
    ({"a_dict.py": derivation("dict formula", gradient="{'dx': 2 * x}")},
     "returned a dict"),
    ({"a_str.py": derivation("str formula", gradient="'2x'")}, "returned a str ('2x')"),
    ({"a_complex.py": derivation("complex formula", gradient="2 * x + 1e-3j")},
     "returned complex values (dtype complex128, largest imaginary part 0.001)"),
    ({"a_none.py": HEADER + "x = 1\n"}, "defines no autograd_lite.verify.Derivation"),
])
def test_each_failure_is_an_error_for_its_file_and_the_rest_are_checked(
        tmp_path, capsys, files, message) -> None:
    status, out, _ = run_cli(tmp_path, files, capsys=capsys)
    assert status == 2
    assert message in out
    assert RIGHT_NAME in out  # the file after it was still checked


def test_a_fifo_is_refused_without_opening_it(tmp_path, capsys) -> None:
    folder = tmp_path / "derivs"
    folder.mkdir()
    os.mkfifo(folder / "a_pipe.py")  # opening it for reading would block forever
    status, out, _ = run_cli(tmp_path, {}, capsys=capsys)
    assert status == 2
    assert "a_pipe.py: is a FIFO (named pipe), not a regular file" in out
    assert RIGHT_NAME in out


def test_an_endless_loop_times_out_with_an_error_naming_the_derivation(tmp_path, capsys) -> None:
    loop = derivation("loops forever", loss="[0 for _ in iter(int, 1)]")
    status, out, _ = run_cli(tmp_path, {"a_loop.py": loop}, "--timeout", "0.5", capsys=capsys)
    assert status == 2
    assert "TIMEOUT  loops forever" in out
    assert "Derivation 'loops forever' did not finish within 0.5 s" in out
    assert RIGHT_NAME in out


def test_an_endless_loop_at_load_time_times_out(tmp_path, capsys) -> None:
    status, out, _ = run_cli(tmp_path, {"a_hang.py": HEADER + "while True:\n    pass\n"},
                             "--timeout", "0.3", capsys=capsys)
    assert status == 2 and "loading it did not finish within 0.3 s" in out
    assert RIGHT_NAME in out


def test_a_loss_that_catches_every_exception_still_times_out(tmp_path, capsys) -> None:
    stubborn = derivation("stubborn", extra=(
        "def stubborn(x):\n    while True:\n        try:\n            pass\n"
        "        except Exception:\n            pass\n"), loss="stubborn(x)")
    status, out, _ = run_cli(tmp_path, {"a_stubborn.py": stubborn}, "--timeout", "0.3",
                             capsys=capsys)
    assert status == 2 and "did not finish within 0.3 s" in out


def test_timeout_must_be_positive(capsys) -> None:
    assert main(["verify", "--timeout", "0"]) == 2
    assert "--timeout must be a positive number" in capsys.readouterr().err


def test_no_derivations_exits_2(tmp_path, capsys) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["verify", str(empty)]) == 2
    assert "no derivation files (*.py) or writeups (*.md, *.tex) in this folder" in \
        capsys.readouterr().out
    assert main(["verify", str(tmp_path / "missing")]) == 2
    assert "no such file or folder" in capsys.readouterr().out


def test_helper_modules_of_the_same_name_do_not_leak_between_folders(tmp_path) -> None:
    """Each folder's derivation imports its own `helpers`: one where ∂/∂x x² = 2x, one where the
    helper says 3x. The second folder must get its own (and fail), not the first's (pass)."""
    for folder, factor in (("one", 2), ("two", 3)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "helpers.py").write_text(f"FACTOR = {factor}\n")
        (tmp_path / folder / "d.py").write_text(derivation(
            f"folder {folder}", gradient="helpers.FACTOR * x", extra="import helpers\n"))
    reports, errors = verify_paths([tmp_path / "one", tmp_path / "two"])
    # helpers.py itself defines no derivation: an error each, but it is imported correctly
    assert sorted(e.split(":")[-1].strip() for e in errors) == [
        "defines no autograd_lite.verify.Derivation at module level"] * 2
    verdicts = {r.name: r.passed for r in reports}
    assert verdicts == {"folder one": True, "folder two": False}
    assert "helpers" not in sys.modules or "one" not in str(sys.modules["helpers"])


def test_json_is_strict_and_prints_of_derivation_files_go_to_stderr(tmp_path, capsys) -> None:
    noisy = derivation("noisy NaN", gradient="2 * x + np.nan", extra="print('hello')\n")
    status, out, err = run_cli(tmp_path, {"a_noisy.py": noisy}, "--json", capsys=capsys)
    assert status == 1
    document = json.loads(out, parse_constant=lambda c: pytest.fail(f"non-strict JSON: {c}"))
    assert document["schema"] == 3 and "hello" in err and "hello" not in out
    (noisy_doc,) = [d for d in document["derivations"] if d["name"] == "noisy NaN"]
    (check,) = noisy_doc["checks"]
    assert check["outcome"] == "fail"
    assert check["worst"]["formula"] is None and check["worst"]["formula_nonfinite"] == "NaN"


def test_json_stdout_is_clean_even_for_output_written_to_file_descriptor_1(tmp_path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "a.py").write_text(derivation("fd writer", extra="import os\nos.write(1, b'raw')\n"))
    result = subprocess.run([sys.executable, "-m", "autograd_lite.cli", "verify", str(folder),
                             "--json"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["passed"] is True
    assert "raw" in result.stderr
