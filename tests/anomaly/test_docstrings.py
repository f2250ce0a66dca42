"""The examples in the docstrings run."""

import doctest
import importlib

import pytest

MODULES = ["", ".series", ".alarms", ".evaluate", ".detector", ".baselines", ".report", ".engines",
           ".records", ".export", ".scoring", ".search", ".cli", ".joint", ".local_level",
           ".level_detector", ".model_choice"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(f"cuttingedge.trainers.anomaly{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
