"""The data layer: sources in order, verification, every bad input, atomic downloads, fallback and strict mode."""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import threading
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from embedlib import data as data_module
from embedlib import environment, movielens_files
from embedlib.data import DatasetError, FallbackWarning, UnknownVersionWarning, load_movielens, read_movielens_folder

from helpers import RATINGS_HEADER, RATINGS_ROWS, real_data_home, write_small


def load_quietly(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownVersionWarning)
        return load_movielens(*args, **kwargs)


# --- the real data ---------------------------------------------------------------------------------------------


@pytest.mark.real_data
def test_real_ml_latest_small_is_the_known_release():
    home = real_data_home()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the known release loads without any warning
        data = load_movielens("ml-latest-small", data_home=home, download=False, strict=True)
    assert data.counts() == {"ratings": 100_836, "users": 610, "rated_movies": 9_724, "movies": 9_742}
    assert data.known_version and not data.is_fallback
    assert dict(data.ratings.dtypes.astype(str)) == movielens_files.RATINGS_DTYPES
    assert data.movies.set_index("movieId").loc[1, "year"] == 1995


# --- reading a local folder -------------------------------------------------------------------------------------


def test_local_folder_loads_with_compact_dtypes_and_years(small_folder):
    data = load_quietly("ml-latest-small", data_home=small_folder.parent)
    assert len(data.ratings) == len(RATINGS_ROWS)
    assert dict(data.ratings.dtypes.astype(str)) == movielens_files.RATINGS_DTYPES
    assert data.movies["movieId"].dtype == "int32"
    years = data.movies.set_index("movieId")["year"]
    assert years[10] == 1995 and years[47] == 1995 and years.isna()[99]
    assert data.movies.set_index("movieId").loc[10, "title"] == "American President, The (1995)"
    assert data.source == str(small_folder)


def test_environment_variable_points_at_the_folder(small_folder, monkeypatch):
    monkeypatch.setenv("EMBEDLIB_DATA", str(small_folder.parent))
    assert load_quietly().source == str(small_folder)


def test_a_copy_that_is_not_the_known_release_loads_with_a_warning(small_folder):
    with pytest.warns(
        UnknownVersionWarning, match="not the known ml-latest-small release.*ratings: 7, expected 100,836"
    ):
        data = load_movielens(data_home=small_folder.parent)
    assert not data.known_version


@pytest.mark.parametrize(
    "ratings, movies, message",
    [
        (
            "userId,movie,rating,timestamp\n1,1,4.0,1\n",
            None,
            r"columns \['userId', 'movie', 'rating', 'timestamp'\].*missing: movieId",
        ),
        (
            "1,31,2.5,1260759144\n1,1,4.0,1\n",
            None,
            r"no header row \(first line: '1,31,2.5,1260759144'\).*Expected columns: userId, movieId, rating, timestamp",
        ),
        (
            f"{RATINGS_HEADER}\n1,1,4.0,1\n1,2,7.0,2\n",
            None,
            r"1 ratings are outside the scale 0.5-5 .*first: 7 in data row 2",
        ),
        (f"{RATINGS_HEADER}\n1,1,4.0,1\n1,2,3.25,2\n", None, r"outside the scale 0.5-5 in steps of 0.5"),
        (
            f"{RATINGS_HEADER}\n1,1,4.0,1\n1,2,four,2\n",
            None,
            r"column 'rating' has a value that is not a number \('four' in data row 2\)",
        ),
        (
            f"{RATINGS_HEADER}\n1,1,4.0,1\nx,2,4.0,2\n",
            None,
            r"column 'userId' has a value that is not a number \('x' in data row 2\)",
        ),
        (
            f"{RATINGS_HEADER}\n1,1,4.0,1\n1,,4.0,2\n",
            None,
            r"column 'movieId' has a value that is not a number \('' in data row 2\)",
        ),
        ("", None, r"ratings.csv in .* is empty"),
        (f"{RATINGS_HEADER}\n", None, r"ratings.csv in .* has a header but no rows"),
        (None, "movieId,name,genres\n1,Toy Story (1995),Comedy\n", r"movies.csv .*\(missing: title"),
        (
            "\n".join([RATINGS_HEADER, *RATINGS_ROWS, "999,999999,5.0,1493846415"]) + "\n",
            None,
            r"1 ratings reference movies missing from movies.csv \(first: data row 8, userId=999, movieId=999999\)",
        ),
    ],
    ids=[
        "misnamed-column",
        "no-header",
        "out-of-range",
        "off-step",
        "non-numeric",
        "non-numeric-id",
        "missing-value",
        "empty-file",
        "header-only",
        "movies-columns",
        "fabricated-row",
    ],
)
def test_bad_input_raises_a_dataset_error_that_says_what_is_wrong(tmp_path, ratings, movies, message):
    folder = write_small(tmp_path, ratings=ratings, movies=movies)
    with pytest.raises(DatasetError, match=message):
        read_movielens_folder(folder)


def test_dataset_error_is_a_value_error():
    assert issubclass(DatasetError, ValueError)


def test_an_explicit_data_home_without_the_dataset_raises_instead_of_falling_back(tmp_path, server):
    with pytest.raises(DatasetError, match=r"data_home='.*' holds no ml-latest-small/ folder"):
        load_movielens(data_home=tmp_path)
    assert server.calls == []  # nothing downloaded, nothing generated


def test_fingerprint_follows_the_content_not_the_folder(tmp_path, monkeypatch):
    a = load_quietly(data_home=write_small(tmp_path / "a").parent)
    b = load_quietly(data_home=write_small(tmp_path / "b").parent)
    other = write_small(tmp_path / "c", ratings="\n".join([RATINGS_HEADER, *RATINGS_ROWS[:-1]]) + "\n")
    c = load_quietly(data_home=other.parent)
    assert a.fingerprint == b.fingerprint != c.fingerprint
    monkeypatch.setenv("EMBEDLIB_DATA", str(tmp_path / "c"))
    assert data_module.dataset_fingerprint("ml-latest-small") == c.fingerprint
    synthetic = load_movielens("synthetic", seed=1)
    assert synthetic.fingerprint == load_movielens("synthetic", seed=1).fingerprint
    assert synthetic.fingerprint != load_movielens("synthetic", seed=2).fingerprint


def test_missing_file_says_which_and_how_to_fix(small_folder):
    (small_folder / "movies.csv").unlink()
    with pytest.raises(DatasetError, match=r"movies.csv is missing from .*embedlib data download ml-latest-small"):
        load_movielens(data_home=small_folder.parent)


def test_unknown_dataset_name_lists_the_valid_ones():
    with pytest.raises(
        DatasetError, match=r"Unknown dataset 'ml-5m'.*ml-latest-small, ml-100k, ml-1m, ml-25m, synthetic"
    ):
        load_movielens("ml-5m")


# --- other MovieLens layouts ------------------------------------------------------------------------------------


def test_ml_100k_parser(tmp_path):
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    (folder / "u.data").write_text("196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t242\t1\t878887116\n")
    flags = ["0"] * 19
    comedy = flags.copy()
    comedy[5] = "1"
    both = comedy.copy()
    both[1] = "1"
    items = [
        "|".join(["242", "Kolya (1996)", "24-Jan-1997", "", "http://x", *comedy]),
        "|".join(["302", "L.A. Confidential (1997)", "01-Jan-1997", "", "http://y", *both]),
    ]
    (folder / "u.item").write_bytes(("\n".join(items) + "\n").encode("latin-1"))
    with pytest.warns(UnknownVersionWarning):
        data = load_movielens("ml-100k", data_home=tmp_path)
    assert data.ratings["rating"].tolist() == [3.0, 3.0, 1.0]
    assert data.movies.set_index("movieId").loc[302, "genres"] == "Action|Comedy"
    assert data.movies.set_index("movieId").loc[242, "year"] == 1996
    assert (data.scale.low, data.scale.high, data.scale.step) == (1.0, 5.0, 1.0)


def test_ml_100k_rejects_half_stars(tmp_path):
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    (folder / "u.data").write_text("196\t242\t3.5\t881250949\n")
    (folder / "u.item").write_text("|".join(["242", "Kolya (1996)", "", "", "", *["0"] * 19]) + "\n")
    with pytest.raises(DatasetError, match="outside the scale 1-5 in steps of 1"):
        read_movielens_folder(folder, "ml-100k")


def test_ml_1m_parser(tmp_path):
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    (folder / "ratings.dat").write_text("1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n")
    (folder / "movies.dat").write_bytes(
        "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n661::Am\u00e9lie: a test (1996)::Animation|Children's\n".encode(
            "latin-1"
        )
    )
    with pytest.warns(UnknownVersionWarning):
        data = load_movielens("ml-1m", data_home=tmp_path)
    assert data.ratings[["userId", "movieId"]].to_numpy().tolist() == [[1, 1193], [1, 661], [2, 1193]]
    assert data.ratings["timestamp"].tolist() == [978300760, 978302109, 978298413]
    movies = data.movies.set_index("movieId")
    assert movies.loc[661, "title"] == "Am\u00e9lie: a test (1996)" and movies.loc[1193, "year"] == 1975


def test_ml_25m_uses_the_csv_layout(tmp_path):
    write_small(tmp_path).rename(tmp_path / "ml-25m")
    with pytest.warns(UnknownVersionWarning, match="not the known ml-25m release"):
        data = load_movielens("ml-25m", data_home=tmp_path)
    assert len(data.ratings) == len(RATINGS_ROWS)


# --- downloads, cache, fallback -----------------------------------------------------------------------------------


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A local 'GroupLens': zips a folder and serves it through pooch's downloader protocol."""
    root = tmp_path / "server"
    root.mkdir()
    calls = []

    def downloader(url, output_file, pooch_obj, check_only=False):
        calls.append(url)
        source = root / Path(url).name
        if not source.exists():
            raise ConnectionError(f"no route to host for {url}")
        shutil.copyfile(source, output_file)

    monkeypatch.setattr(data_module, "DOWNLOADER", downloader)

    def publish(folder: Path, pin: bool = True, known=None) -> str:
        archive = root / f"{folder.name}.zip"
        with zipfile.ZipFile(archive, "w") as z:
            for f in folder.iterdir():
                z.write(f, f"{folder.name}/{f.name}")
        digest = "sha256:" + hashlib.sha256(archive.read_bytes()).hexdigest()
        spec = data_module.DATASETS[folder.name]
        spec = dataclasses.replace(spec, archive_hash=digest if pin else None, known=known or spec.known)
        monkeypatch.setitem(data_module.DATASETS, folder.name, spec)
        return digest

    publish.calls = calls
    return publish


def cache_contents() -> list[str]:
    cache = environment.cache_dir()
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


def tiny_known_release():
    return data_module.KnownRelease(n_ratings=len(RATINGS_ROWS), n_users=3, n_rated_movies=4, n_movies=5)


def test_download_is_verified_unpacked_and_cached(tmp_path, server):
    server(write_small(tmp_path / "src"), known=tiny_known_release())
    data = load_movielens(download=True, strict=True)
    assert data.source == "download" and len(data.ratings) == len(RATINGS_ROWS) and data.known_version
    assert cache_contents() == ["ml-latest-small"]  # no archive or staging folder left behind
    again = load_movielens(strict=True)
    assert again.source == "cache" and len(server.calls) == 1


def test_checksum_mismatch_raises_and_leaves_nothing_in_the_cache(tmp_path, server, monkeypatch):
    server(write_small(tmp_path / "src"))
    spec = dataclasses.replace(data_module.DATASETS["ml-latest-small"], archive_hash="sha256:" + "0" * 64)
    monkeypatch.setitem(data_module.DATASETS, "ml-latest-small", spec)
    with pytest.raises(DatasetError, match="download of ml-latest-small .* is corrupt.*deleted"):
        load_movielens()
    assert cache_contents() == []


def test_unpinned_download_with_unexpected_content_is_refused_and_deleted(tmp_path, server):
    server(write_small(tmp_path / "src"), pin=False)  # the real known release expects 100,836 ratings
    with pytest.raises(DatasetError, match="not the known release .*ratings: 7, expected 100,836.*deleted"):
        load_movielens()
    assert cache_contents() == []


def test_download_with_bad_rows_is_refused_and_deleted(tmp_path, server):
    bad = "\n".join([RATINGS_HEADER, *RATINGS_ROWS, "999,999999,5.0,1493846415"]) + "\n"
    server(write_small(tmp_path / "src", ratings=bad))
    with pytest.raises(DatasetError, match="reference movies missing"):
        load_movielens()
    assert cache_contents() == []


def test_a_damaged_cache_is_refused_with_how_to_fetch_it_again(tmp_path, server):
    server(write_small(tmp_path / "src"), known=tiny_known_release())
    cached = data_module.download_movielens("ml-latest-small")
    ratings = cached / "ratings.csv"
    ratings.write_text("\n".join([RATINGS_HEADER, *RATINGS_ROWS[:4]]) + "\n")  # truncated at a row boundary
    with pytest.raises(DatasetError, match=r"cached copy of ml-latest-small .* is damaged: ratings.csv .*--force"):
        load_movielens(strict=False)  # refused, not a fallback and not half the ratings
    data_module.download_movielens("ml-latest-small", force=True)
    assert len(load_movielens(strict=True).ratings) == len(RATINGS_ROWS)


def test_a_cache_without_its_record_is_checked_against_the_pinned_checksums():
    write_small(environment.cache_dir())  # as an older embedlib, or a hand, might have left it: not the release
    with pytest.raises(DatasetError, match="is damaged: ratings.csv, movies.csv no longer match"):
        load_movielens()


def test_a_users_own_copy_that_differs_still_loads_with_a_warning(small_folder, monkeypatch):
    monkeypatch.setenv("EMBEDLIB_DATA", str(small_folder.parent))
    with pytest.warns(UnknownVersionWarning, match="not the known ml-latest-small release"):
        assert len(load_movielens().ratings) == len(RATINGS_ROWS)


def test_two_downloads_into_a_cold_cache_at_once_keep_the_first_finished_folder(tmp_path, server, monkeypatch):
    server(write_small(tmp_path / "src"), known=tiny_known_release())
    serve = data_module.DOWNLOADER
    both_started = threading.Barrier(2, timeout=30)
    first_done = threading.Event()
    seen, errors = {}, []

    def downloader(url, output_file, pooch_obj, check_only=False):
        both_started.wait()  # both found the cache cold and are downloading
        if threading.current_thread().name == "second":
            first_done.wait(timeout=30)  # finish after the first has moved its folder into place
        serve(url, output_file, pooch_obj, check_only)

    monkeypatch.setattr(data_module, "DOWNLOADER", downloader)

    def kernel(name):
        try:
            folder = data_module.download_movielens("ml-latest-small")
            seen[name] = (folder, (folder / "ratings.csv").stat().st_ino)
            if name == "first":
                first_done.set()
            seen[name + " loaded"] = len(load_movielens(strict=True).ratings)
        except Exception as exc:  # reported below, with the thread's name
            errors.append((name, exc))
            first_done.set()

    threads = [threading.Thread(target=kernel, args=(n,), name=n) for n in ("first", "second")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert len(server.calls) == 2  # both really downloaded
    assert seen["first"] == seen["second"]  # the second kept the first's folder: same path, same files
    assert seen["first loaded"] == seen["second loaded"] == len(RATINGS_ROWS)
    assert cache_contents() == ["ml-latest-small"]  # no staging folder left behind


def test_interrupted_download_leaves_nothing_half_written(monkeypatch):
    def dies_half_way(url, output_file, pooch_obj, check_only=False):
        Path(output_file).write_bytes(b"PK\x03\x04 partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(data_module, "DOWNLOADER", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        load_movielens()
    assert cache_contents() == []


def test_no_network_falls_back_to_synthetic_with_a_warning(server):
    with pytest.warns(FallbackWarning, match=r"ml-latest-small could not be had .*ConnectionError.*EMBEDLIB_DATA"):
        data = load_movielens()
    assert data.name == "synthetic" and data.is_fallback and "ConnectionError" in data.fallback_reason
    assert cache_contents() == []


def test_strict_mode_raises_instead_of_falling_back(server, monkeypatch):
    with pytest.raises(DatasetError, match="could not be had"):
        load_movielens(strict=True)
    monkeypatch.setenv("EMBEDLIB_STRICT", "1")
    with pytest.raises(DatasetError, match="could not be had"):
        load_movielens()


def test_download_false_does_not_touch_the_network(server):
    with pytest.warns(FallbackWarning, match="no download tried"):
        load_movielens(download=False)
    assert server.calls == []


@pytest.mark.network
def test_real_download_from_grouplens():
    data = load_movielens(strict=True)
    assert data.counts()["ratings"] == 100_836


# --- synthetic ------------------------------------------------------------------------------------------------------


def test_synthetic_is_deterministic_and_shaped_like_movielens():
    a, b = load_movielens("synthetic", seed=7), load_movielens("synthetic", seed=7)
    assert a.ratings.equals(b.ratings) and a.movies.equals(b.movies)
    assert not a.ratings.equals(load_movielens("synthetic", seed=8).ratings)
    c = a.counts()
    assert c["users"] == 610 and c["movies"] == 9_742 and 80_000 < c["ratings"] < 130_000
    assert dict(a.ratings.dtypes.astype(str)) == movielens_files.RATINGS_DTYPES
    assert not a.scale.invalid(a.ratings["rating"]).any()
    per_movie = a.ratings.groupby("movieId").size()
    assert per_movie.max() > 20 * per_movie.median()  # a long tail
    assert a.ratings.duplicated(["userId", "movieId"]).sum() == 0
    assert a.movies["year"].notna().all() and a.ratings["movieId"].isin(a.movies["movieId"]).all()


def test_synthetic_ratings_follow_the_planted_factors():
    data = load_movielens("synthetic", seed=1)
    p = data.planted
    users = p.users.loc[data.ratings["userId"]]
    movies = p.movies.loc[data.ratings["movieId"]]
    f = p.factor_columns
    expected = (
        p.global_mean
        + users["bias"].to_numpy()
        + movies["bias"].to_numpy()
        + np.einsum("ij,ij->i", users[f].to_numpy(), movies[f].to_numpy())
    )
    assert np.corrcoef(expected, data.ratings["rating"])[0, 1] > 0.7


def test_the_data_commands_download_then_describe_the_cached_copy(tmp_path, server, capsys):
    from embedlib import cli

    server(write_small(tmp_path / "src"), known=tiny_known_release())
    assert cli.main(["data", "download", "ml-latest-small"]) == 0
    cached = environment.cache_dir() / "ml-latest-small"
    assert f"ml-latest-small is in {cached}" in capsys.readouterr().out
    assert cli.main(["data", "info", "ml-latest-small"]) == 0
    said = capsys.readouterr().out
    assert "source:   cache" in said and "the known GroupLens release" in said
    assert f"ratings:  {len(RATINGS_ROWS):,}" in said and "scale:    0.5 to 5 in steps of 0.5" in said
    assert cli.main(["data", "download", "ml-latest-small"]) == 0 and len(server.calls) == 1  # kept, not fetched again


def test_data_info_without_a_copy_says_how_to_get_one_and_never_downloads(server, capsys):
    from embedlib import cli

    assert cli.main(["data", "info", "ml-latest-small"]) == 2
    err = capsys.readouterr().err
    assert "could not be had" in err and "embedlib data download ml-latest-small" in err
    assert server.calls == [] and cache_contents() == []


def test_data_download_without_a_network_is_a_clear_error_not_a_traceback(server, capsys):
    from embedlib import cli

    assert cli.main(["data", "download", "ml-latest-small"]) == 2  # the local "server" publishes nothing
    assert "embedlib: error: download from https://files.grouplens.org" in capsys.readouterr().err
    assert cache_contents() == []
