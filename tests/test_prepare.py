"""Id encoding both ways, the seeded split, and the index guard in front of the models."""

import numpy as np
import pandas as pd
import pytest

from embedlib.prepare import IdEncoder, checked_inputs, train_valid_split, train_valid_test_split


def test_encoder_round_trip_with_gaps():
    ids = np.array([193609, 1, 47, 1, 3])
    enc = IdEncoder(ids, "movieId")
    assert len(enc) == 4 and enc.n_rows == 5
    assert enc.encode([1, 3, 47, 193609]).tolist() == [1, 2, 3, 4]
    assert enc.decode(enc.encode(ids)).tolist() == ids.tolist()
    assert enc.encode(47).dtype == np.int32


def test_encoder_refuses_unknown_ids_and_reserved_index():
    enc = IdEncoder([1, 3, 47], "movieId")
    with pytest.raises(KeyError, match=r"Unknown movieId: 2, 999 \(2 in all\)"):
        enc.encode([1, 2, 999])
    with pytest.raises(IndexError, match=r"Index 0 belongs to no movieId: valid indices are 1 to 3 \(0 is reserved\)"):
        enc.decode([0])
    with pytest.raises(IndexError, match="Index 4"):
        enc.decode([4])


def test_split_is_seeded_disjoint_and_complete():
    frame = pd.DataFrame({"row": np.arange(1000)})
    train, valid = train_valid_split(frame, valid_frac=0.2, seed=5)
    assert len(valid) == 200 and len(train) == 800
    assert sorted(pd.concat([train, valid])["row"]) == list(range(1000))
    again, _ = train_valid_split(frame, valid_frac=0.2, seed=5)
    assert train.equals(again)
    other, _ = train_valid_split(frame, valid_frac=0.2, seed=6)
    assert not train.equals(other)


@pytest.mark.parametrize("frac", [0, 1, -0.1, 1.5])
def test_split_refuses_impossible_fractions(frac):
    with pytest.raises(ValueError, match=f"`valid_frac` must be between 0 and 1 .*valid_frac={frac}"):
        train_valid_split(pd.DataFrame({"a": [1, 2]}), valid_frac=frac)


def test_prepare_encodes_over_all_ratings(tiny_synthetic):
    data, prep = tiny_synthetic
    assert prep.n_users == data.ratings["userId"].nunique()
    assert prep.n_movies == data.ratings["movieId"].nunique()
    both = pd.concat([prep.train, prep.valid])
    assert both["movie"].min() == 1 and both["movie"].max() == prep.n_movies
    assert (prep.movies.decode(both["movie"]) == both["movieId"]).all()
    assert prep.targets(prep.train).shape == (len(prep.train), 1)


def test_unseen_counts_match_a_direct_count(tiny_synthetic):
    _, prep = tiny_synthetic
    unseen = set(prep.valid["movieId"]) - set(prep.train["movieId"])
    counts = prep.unseen_in_training()
    assert counts["valid_movies_unseen"] == len(unseen)
    assert counts["valid_rows_with_unseen_movie"] == prep.valid["movieId"].isin(unseen).sum()


def test_indices_outside_the_tables_are_refused_before_the_model():
    with pytest.raises(IndexError, match=r"`movie` index 10 is outside the embedding table \(valid: 0 to 9\)"):
        checked_inputs(np.array([1, 2]), np.array([3, 10]), user_rows=5, movie_rows=10)
    with pytest.raises(IndexError, match="`user` index -1"):
        checked_inputs(np.array([-1]), np.array([3]), user_rows=5, movie_rows=10)
    ok = checked_inputs(np.array([4]), np.array([9]), user_rows=5, movie_rows=10)
    assert ok["user"].dtype == np.int32


def test_test_split_leaves_validation_rows_unchanged():
    frame = pd.DataFrame({"x": np.arange(1000)})
    _, valid = train_valid_split(frame, valid_frac=0.2, seed=5)
    train3, valid3, test3 = train_valid_test_split(frame, valid_frac=0.2, test_frac=0.1, seed=5)
    pd.testing.assert_frame_equal(valid, valid3)
    assert len(test3) == 100 and len(train3) == 700
    assert not set(test3["x"]) & (set(train3["x"]) | set(valid3["x"]))


def test_submodules_are_not_shadowed_by_functions():
    import importlib

    import embedlib

    assert importlib.import_module("embedlib.prepare").__name__ == "embedlib.prepare"
    assert isinstance(embedlib.prepare, type(importlib)) and isinstance(embedlib.record, type(importlib))
