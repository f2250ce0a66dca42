"""SVMlight reading with qid fields or a side query file."""

import numpy as np
import pytest

from cuttingedge.trainers.lambdamart.svmlight import read_svmlight


def test_reads_qid_runs_and_absent_features_as_zero(tmp_path):
    path = tmp_path / "rank.txt"
    path.write_text("2 qid:1 1:0.5 3:1.5 # comment\n0 qid:1 2:-1\n\n1 qid:9 3:2\n")
    data = read_svmlight(path, n_features=4)
    np.testing.assert_array_equal(data.features, [[0.5, 0, 1.5, 0], [0, -1, 0, 0], [0, 0, 2, 0]])
    np.testing.assert_array_equal(data.labels, [2, 0, 1])
    np.testing.assert_array_equal(data.group_sizes, [2, 1])


def test_query_file_overrides_qid(tmp_path):
    (tmp_path / "d.txt").write_text("1 1:1\n0 1:2\n1 2:3\n")
    (tmp_path / "d.query").write_text("1\n2\n")
    data = read_svmlight(tmp_path / "d.txt", tmp_path / "d.query")
    np.testing.assert_array_equal(data.group_sizes, [1, 2])
    assert data.features.shape == (3, 2) and data.features.dtype == np.float32


def test_real_sample_matches_its_description(rank_train):
    assert rank_train.features.shape == (3005, 300)
    assert len(rank_train.group_sizes) == 201
    np.testing.assert_array_equal(np.bincount(rank_train.labels), [645, 1211, 858, 222, 69])


def test_svmlight_errors_are_clear(tmp_path):
    (tmp_path / "d.txt").write_text("1 1:1\n0 x:2\n")
    with pytest.raises(ValueError, match=r"d.txt:2: expected '<label> \[qid:<id>\]"):
        read_svmlight(tmp_path / "d.txt")
    (tmp_path / "e.txt").write_text("1 1:1\n0 2:2\n")
    with pytest.raises(ValueError, match="every line needs a 'qid:<id>' field"):
        read_svmlight(tmp_path / "e.txt")
    (tmp_path / "e.query").write_text("3\n")
    with pytest.raises(ValueError, match="Group sizes add up to 3 rows but .* holds 2"):
        read_svmlight(tmp_path / "e.txt", tmp_path / "e.query")
    with pytest.raises(ValueError, match="feature index 2 exceeds n_features=1"):
        read_svmlight(tmp_path / "e.txt", tmp_path / "e.query", n_features=1)
