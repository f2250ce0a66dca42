"""Every docstring example of the tuning package runs and prints what it shows."""

import doctest
import importlib
import pkgutil

import pytest

import cuttingedge.trainers.tuning as tuning

MODULES = ["", *sorted(f".{info.name}" for info in pkgutil.iter_modules(tuning.__path__))]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(f"cuttingedge.trainers.tuning{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
