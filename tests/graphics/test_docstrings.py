"""Every docstring example of the graphics package runs and prints what it shows."""

import doctest
import importlib
import pkgutil

import pytest

import cuttingedge.trainers.graphics as graphics

MODULES = sorted(info.name for info in pkgutil.iter_modules(graphics.__path__))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(f"cuttingedge.trainers.graphics.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
