"""The wheel holds exactly the `cuttingedge` namespace, with every source module in it, and
the tests run against the installed package, not the source tree."""

import pathlib
import subprocess
import sys
import zipfile

import pytest

import cuttingedge.pipelines

FOLDERS = ("pipelines", "components", "trainers", "schemas", "sample_data")


@pytest.fixture(scope="module")
def wheel(repo, tmp_path_factory) -> zipfile.ZipFile:
    built = sorted((repo / "dist").glob("cuttingedge-*.whl")) if (repo / "dist").is_dir() else []
    if not built:
        out = tmp_path_factory.mktemp("dist")
        subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation",
                        "--outdir", str(out), str(repo)], check=True, capture_output=True)
        built = sorted(out.glob("cuttingedge-*.whl"))
    return zipfile.ZipFile(built[-1])


def test_wheel_contains_only_the_cuttingedge_namespace(wheel):
    tops = {name.split("/")[0] for name in wheel.namelist()}
    assert tops == {"cuttingedge", next(t for t in tops if t.endswith(".dist-info"))}
    assert "cuttingedge/__init__.py" not in wheel.namelist()  # a namespace package


def test_wheel_contains_every_source_module_and_data_file(wheel, repo):
    names = set(wheel.namelist())
    for folder in FOLDERS:
        for path in (repo / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                relative = path.relative_to(repo).as_posix()
                assert f"cuttingedge/{relative}" in names, f"{relative} is missing from the wheel"


def test_tests_import_the_installed_package_not_the_source_tree(repo):
    location = pathlib.Path(cuttingedge.pipelines.__file__).resolve()
    assert "site-packages" in location.parts, location


def test_console_script_is_installed():
    bin_dir = pathlib.Path(sys.executable).parent
    assert (bin_dir / "cuttingedge").exists()


def test_the_environment_is_consistent_and_tensorboard_serves():
    """`pip check` passes, and TensorBoard's server imports (it needs pkg_resources, which
    setuptools 81+ no longer ships: the Makefile keeps setuptools below 81)."""
    checked = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True,
                             text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    board = subprocess.run([sys.executable, "-c", "import tensorboard.program, "
                            "tensorboard.main; print('ok')"], capture_output=True, text=True,
                           timeout=300)
    assert board.stdout.strip().endswith("ok"), board.stderr[-2000:]
