"""The examples in the docstrings run."""

import doctest
import importlib

import pytest

MODULES = ["train", "layout", "svmlight", "dump", "compile"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(f"cuttingedge.trainers.lambdamart.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
