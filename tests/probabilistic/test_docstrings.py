"""The examples in the docstrings run."""

import doctest
import importlib

import pytest

MODULES = ["", ".distribution", ".losses", ".mean_field", ".layers", ".svgp",
           ".gaussian_process", ".predictive", ".ladder", ".export"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(f"cuttingedge.trainers.probabilistic{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
