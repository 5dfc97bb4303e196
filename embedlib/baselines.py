"""Classical reference points on the same split: the global mean, user and movie biases, truncated SVD."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

from embedlib.prepare import Prepared
from embedlib.training import rmse

__all__ = ["BiasBaseline", "SVDBaseline", "global_mean_rmse"]


def global_mean_rmse(prep: Prepared, frame: pd.DataFrame | None = None) -> float:
    """RMSE of predicting the training mean for every rating of ``frame`` (the validation set by default): the floor
    every model must beat."""
    frame = prep.valid if frame is None else frame
    return rmse(frame["rating"].to_numpy(), np.full(len(frame), prep.train["rating"].mean()))


class _Baseline:
    """What every baseline shares: validation RMSE from its own ``predict``."""

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError

    def rmse(self, prep: Prepared, frame: pd.DataFrame | None = None) -> float:
        """RMSE on ``frame`` (the validation set by default), predictions clipped to the rating scale."""
        frame = prep.valid if frame is None else frame
        pred = np.clip(self.predict(frame), *prep.rating_range)
        return rmse(frame["rating"].to_numpy(), pred)


class BiasBaseline(_Baseline):
    """``mean + user bias + movie bias``, fitted by regularised alternating least squares (as surprise's BaselineOnly).

    Ids never seen in training get a bias of 0.
    """

    def __init__(self, reg_user: float = 15.0, reg_movie: float = 10.0, n_iter: int = 10) -> None:
        self.reg_user, self.reg_movie, self.n_iter = reg_user, reg_movie, n_iter

    def fit(self, prep: Prepared) -> BiasBaseline:
        train = prep.train
        users, movies = train["user"].to_numpy(), train["movie"].to_numpy()
        ratings = train["rating"].to_numpy(dtype="float64")
        self.mean_ = ratings.mean()
        self.user_bias_ = np.zeros(prep.users.n_rows)
        self.movie_bias_ = np.zeros(prep.movies.n_rows)
        user_counts = np.bincount(users, minlength=prep.users.n_rows)
        movie_counts = np.bincount(movies, minlength=prep.movies.n_rows)
        for _ in range(self.n_iter):
            resid = ratings - self.mean_ - self.movie_bias_[movies]
            self.user_bias_ = np.bincount(users, resid, prep.users.n_rows) / (self.reg_user + user_counts)
            resid = ratings - self.mean_ - self.user_bias_[users]
            self.movie_bias_ = np.bincount(movies, resid, prep.movies.n_rows) / (self.reg_movie + movie_counts)
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Predictions for encoded rows."""
        return self.mean_ + self.user_bias_[frame["user"].to_numpy()] + self.movie_bias_[frame["movie"].to_numpy()]


class SVDBaseline(_Baseline):
    """Matrix factorisation the classical way: a truncated SVD of the user-centred users × movies ratings matrix.

    Missing ratings count as the user's mean (0 after centring), which is what makes plain SVD need a filled matrix
    and is exactly the limitation an embedding model learning from the rating table avoids.
    """

    def __init__(self, n_components: int = 20, seed: int = 42) -> None:
        self.n_components, self.seed = n_components, seed

    def fit(self, prep: Prepared) -> SVDBaseline:
        train = prep.train
        users, movies = train["user"].to_numpy(), train["movie"].to_numpy()
        ratings = train["rating"].to_numpy(dtype="float64")
        counts = np.bincount(users, minlength=prep.users.n_rows)
        global_mean = ratings.mean()
        sums = np.bincount(users, ratings, prep.users.n_rows)
        self.user_mean_ = np.where(counts > 0, sums / np.maximum(counts, 1), global_mean)
        centred = sparse.csr_matrix(
            (ratings - self.user_mean_[users], (users, movies)), shape=(prep.users.n_rows, prep.movies.n_rows)
        )
        from sklearn.decomposition import TruncatedSVD  # scikit-learn takes a second to import; only this needs it

        svd = TruncatedSVD(n_components=self.n_components, random_state=self.seed)
        self.user_factors_ = svd.fit_transform(centred)  # U · S
        self.movie_factors_ = svd.components_.T  # V
        self.explained_variance_ratio_ = svd.explained_variance_ratio_
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Predictions for encoded rows."""
        u, m = frame["user"].to_numpy(), frame["movie"].to_numpy()
        return self.user_mean_[u] + np.einsum("ij,ij->i", self.user_factors_[u], self.movie_factors_[m])
