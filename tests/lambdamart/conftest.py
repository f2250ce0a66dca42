"""Shared fixtures of the LambdaMART tests: seeds and the LightGBM lambdarank sample data."""

import os
import pathlib

import numpy as np
import pytest
import tensorflow as tf

from cuttingedge.trainers.lambdamart.svmlight import RankingData, read_svmlight


@pytest.fixture(autouse=True)
def _seed():
    np.random.seed(0)
    tf.random.set_seed(0)


def _shared_data_dir() -> pathlib.Path:
    configured = os.environ.get("CUTTINGEDGE_SHARED_DATA")
    if configured:
        return pathlib.Path(configured)
    repository = pathlib.Path(__file__).resolve().parents[2]
    return repository.parent / "shared" / "data"


@pytest.fixture(scope="session")
def rank_train() -> RankingData:
    """LightGBM's examples/lambdarank/rank.train (3,005 rows, 201 queries, 300 features)."""
    folder = _shared_data_dir() / "lightgbm_lambdarank"
    if not (folder / "rank.train").exists():
        pytest.skip(f"{folder}/rank.train not found; set CUTTINGEDGE_SHARED_DATA to the folder "
                    f"that holds lightgbm_lambdarank/.")
    return read_svmlight(folder / "rank.train", folder / "rank.train.query")
