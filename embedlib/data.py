"""MovieLens: find, download, verify, cache and load the ratings and movies tables.

Where the files come from, in this order:

1. ``data_home`` or the ``EMBEDLIB_DATA`` environment variable: a folder holding ``<name>/`` exactly as GroupLens
   ships it (so ``EMBEDLIB_DATA=../shared/data`` works for ``../shared/data/ml-latest-small/ratings.csv``);
2. the user's cache (``EMBEDLIB_CACHE``, else ``pooch.os_cache("embedlib")``);
3. a download from GroupLens with pooch, verified and unpacked into the cache.

When none of these works, ``load_movielens`` falls back to the synthetic dataset with a warning, unless strict mode
(``strict=True`` or ``EMBEDLIB_STRICT=1``) asks for a ``DatasetError`` instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from embedlib.dataset import HALF_STARS, WHOLE_STARS, Dataset, DatasetError, RatingScale
from embedlib.environment import cache_dir, env_flag, write_atomic

if TYPE_CHECKING:  # pandas, pooch and the parsers are imported when data is read: `embedlib --help` stays quick
    import pandas as pd

__all__ = [
    "DATASETS",
    "Dataset",
    "DatasetError",
    "FallbackWarning",
    "UnknownVersionWarning",
    "dataset_fingerprint",
    "download_movielens",
    "load_movielens",
    "read_movielens_folder",
]

GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens/{name}.zip"

# Tests swap this for a function that copies from a local "server" folder (pooch's downloader protocol).
DOWNLOADER: Callable | None = None


class FallbackWarning(UserWarning):
    """The real dataset could not be had, so the synthetic one is used instead."""


class UnknownVersionWarning(UserWarning):
    """A local copy loaded fine but is not the release embedlib knows (an older or edited copy)."""


@dataclass(frozen=True)
class KnownRelease:
    """What the GroupLens release must contain; used to tell the known version from other copies."""

    n_ratings: int
    n_users: int
    n_rated_movies: int
    n_movies: int
    sha256: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DatasetSpec:
    """One downloadable MovieLens dataset: where it lives, how to parse it, what it must contain."""

    name: str
    layout: str  # "csv" (ml-latest-small, ml-25m), "100k" or "1m"
    files: tuple[str, str]  # ratings file, movies file
    scale: RatingScale
    known: KnownRelease
    archive_hash: str | None  # pooch's "algo:hex"; None where GroupLens publishes none yet

    @property
    def url(self) -> str:
        return GROUPLENS_URL.format(name=self.name)


# ml-latest-small.zip has no published checksum and the archive hash was never recorded here (no network when this
# was written). Until it is pinned, the unpacked ratings.csv and movies.csv are checked against these SHA-256s, taken
# from a verified copy of the 2018 release. pooch logs the archive's SHA-256 on first download: pin it here then.
DATASETS: dict[str, DatasetSpec] = {
    "ml-latest-small": DatasetSpec(
        name="ml-latest-small",
        layout="csv",
        files=("ratings.csv", "movies.csv"),
        scale=HALF_STARS,
        known=KnownRelease(
            n_ratings=100_836,
            n_users=610,
            n_rated_movies=9_724,
            n_movies=9_742,
            sha256={
                "ratings.csv": "80da8b3393dae325bbba5a31f291a6ba55d8d4f4396de3c456f2c1635b1b70e8",
                "movies.csv": "c47b783f23eb304413307e1bb05335e427737da20ec8d3c0e96335567dd5f3dc",
            },
        ),
        archive_hash=None,
    ),
    "ml-100k": DatasetSpec(
        name="ml-100k",
        layout="100k",
        files=("u.data", "u.item"),
        scale=WHOLE_STARS,
        known=KnownRelease(n_ratings=100_000, n_users=943, n_rated_movies=1_682, n_movies=1_682),
        archive_hash="md5:0e33842e24a9c977be4e0107933c0723",
    ),
    "ml-1m": DatasetSpec(
        name="ml-1m",
        layout="1m",
        files=("ratings.dat", "movies.dat"),
        scale=WHOLE_STARS,
        known=KnownRelease(n_ratings=1_000_209, n_users=6_040, n_rated_movies=3_706, n_movies=3_883),
        archive_hash="md5:c4d9eecfca2ab87c1945afe126590906",
    ),
    "ml-25m": DatasetSpec(
        name="ml-25m",
        layout="csv",
        files=("ratings.csv", "movies.csv"),
        scale=HALF_STARS,
        known=KnownRelease(n_ratings=25_000_095, n_users=162_541, n_rated_movies=59_047, n_movies=62_423),
        archive_hash="md5:6b51fb2759a8657d3bfcbfc42b592ada",
    ),
}
SYNTHETIC = "synthetic"
DATASET_NAMES = (*DATASETS, SYNTHETIC)


MANIFEST = ".embedlib-sha256.json"  # written into each cached folder: the SHA-256 of every file as verified


def _spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise DatasetError(f"Unknown dataset {name!r}. Choose one of: {', '.join(DATASET_NAMES)}.")
    return DATASETS[name]


def _local_copy(name: str, data_home: str | os.PathLike | None) -> tuple[Path, str] | None:
    """The folder ``load_movielens`` reads ``name`` from without downloading, and its source label; None if none.

    An explicit ``data_home`` without the dataset is an error (as in scikit-learn's ``fetch_*``): the caller
    asked for that folder, so quietly using another copy would hide a mistake.
    """
    if data_home is not None:
        folder = Path(data_home).expanduser() / name
        if not folder.is_dir():
            raise DatasetError(
                f"data_home={str(data_home)!r} holds no {name}/ folder. Point data_home at the folder that contains "
                f"{name}/ as GroupLens ships it, or leave it out to use EMBEDLIB_DATA, the cache or a download."
            )
        return folder, str(folder)
    home = os.environ.get("EMBEDLIB_DATA")
    if home and (Path(home).expanduser() / name).is_dir():
        folder = (Path(home).expanduser() / name).absolute()
        return folder, str(folder)
    cached = cache_dir() / name
    if cached.is_dir():
        return cached, "cache"
    return None


def load_movielens(
    name: str = "ml-latest-small",
    *,
    data_home: str | os.PathLike | None = None,
    download: bool = True,
    strict: bool | None = None,
    seed: int = 0,
) -> Dataset:
    """Load a MovieLens dataset (or ``"synthetic"``), falling back to synthetic data when the real one can't be had.

    =================  =========  ======  ======  ========
    name               ratings    users   movies  scale
    =================  =========  ======  ======  ========
    ml-latest-small    100,836    610     9,742   0.5-5
    ml-100k            100,000    943     1,682   1-5
    ml-1m              1,000,209  6,040   3,883   1-5
    ml-25m             25M        162,541 62,423  0.5-5
    synthetic          ~100,000   610     9,742   0.5-5
    =================  =========  ======  ======  ========

    Args:
        name: one of ``DATASET_NAMES``.
        data_home: a folder holding ``<name>/``; defaults to ``EMBEDLIB_DATA``. Given explicitly, it must hold
            the dataset (``DatasetError`` otherwise).
        download: whether to download into the cache when no local copy is found.
        strict: raise ``DatasetError`` instead of falling back; defaults to ``EMBEDLIB_STRICT``.
        seed: seed of the synthetic data (used for ``"synthetic"`` and for the fallback).
    """
    from embedlib.synthetic import make_synthetic

    if name == SYNTHETIC:
        return make_synthetic(seed=seed)
    _spec(name)  # an unknown name is an error even when a local folder has that name
    strict = env_flag("EMBEDLIB_STRICT") if strict is None else strict

    local = _local_copy(name, data_home)
    if local is not None:
        folder, source = local
        return read_movielens_folder(folder, name, source=source)
    home = os.environ.get("EMBEDLIB_DATA")
    tried = [f"no folder {Path(home).expanduser() / name}"] if home else []
    tried.append(f"not in the cache {cache_dir() / name}")
    if download:
        try:
            folder = download_movielens(name)
        except _DownloadFailed as exc:
            tried.append(str(exc))
        else:
            return read_movielens_folder(folder, name, source="download")
    else:
        tried.append("no download tried")

    reason = f"{name} could not be had ({'; '.join(tried)})"
    how = (
        f"To use the real data, connect to the internet and run `embedlib data download {name}`, or set "
        f"EMBEDLIB_DATA to a folder holding {name}/ as GroupLens ships it."
    )
    if strict:
        raise DatasetError(f"{reason}. {how}")
    warnings.warn(
        f"{reason}. Using the synthetic dataset instead: numbers will differ from the lessons' text. {how}",
        FallbackWarning,
        stacklevel=2,
    )
    data = make_synthetic(seed=seed)
    data.fallback_reason = reason
    return data


def dataset_fingerprint(name: str, *, data_home: str | os.PathLike | None = None) -> str | None:
    """The fingerprint ``load_movielens(name)`` would give its data now, without loading or downloading it.

    None when there is no local copy (a run would download or fall back). For ``"synthetic"`` it depends on the
    generator's settings, so this returns None too: callers tie synthetic results to their parameters instead.
    """
    if name == SYNTHETIC:
        return None
    local = _local_copy(name, data_home)
    return None if local is None else _fingerprint(_spec(name), _file_hashes(local[0], _spec(name)))


class _DownloadFailed(DatasetError):
    """The network or server failed: a reason to fall back, unlike a corrupt download."""


def download_movielens(name: str, *, force: bool = False) -> Path:
    """Download, verify and unpack a MovieLens dataset into the cache; return its folder.

    Atomic: the archive is hash-checked by pooch, unpacked into a temporary folder, verified, and only then moved
    into place with the SHA-256 of each file beside it. On any failure the cache holds nothing of this dataset.
    Safe to run in several processes at once: whichever finishes first provides the folder, the others keep it.
    """
    with warnings.catch_warnings():
        # pooch imports tqdm.auto, which in a notebook without ipywidgets warns about a progress bar we never show.
        warnings.filterwarnings("ignore", message="IProgress not found")
        import pooch

    spec = _spec(name)
    root = cache_dir()
    target = root / name
    if target.is_dir() and not force:
        return target
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
    try:
        try:
            pooch.retrieve(
                spec.url,
                known_hash=spec.archive_hash,
                fname=f"{name}.zip",
                path=staging,
                processor=pooch.Unzip(extract_dir="unpacked"),
                downloader=DOWNLOADER,
                progressbar=False,
            )
        except ValueError as exc:  # pooch's hash mismatch
            raise DatasetError(
                f"The download of {name} from {spec.url} is corrupt: {exc} It was deleted. Try again later; if it "
                "keeps failing, GroupLens may have changed the file: report it."
            ) from exc
        except Exception as exc:  # network, DNS, HTTP errors from requests
            raise _DownloadFailed(f"download from {spec.url} failed: {type(exc).__name__}: {exc}") from exc
        unpacked = _find_dataset_folder(staging / "unpacked", spec)
        read_movielens_folder(unpacked, name, source="download", downloaded=True)
        write_atomic(unpacked / MANIFEST, json.dumps(_file_hashes(unpacked, spec), indent=2) + "\n")
        if force and target.exists():
            os.replace(target, staging / "replaced")  # out of the way in one step; deleted with the staging folder
        try:
            os.rename(unpacked, target)
        except OSError:
            if not (target / MANIFEST).is_file():
                raise
            # Another process finished the same download first: its folder is complete and may be in use; keep it.
        return target
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _find_dataset_folder(unpacked: Path, spec: DatasetSpec) -> Path:
    ratings_file = spec.files[0]
    for candidate in [unpacked, *sorted(p for p in unpacked.rglob("*") if p.is_dir())]:
        if (candidate / ratings_file).is_file():
            return candidate
    raise DatasetError(
        f"The {spec.name} archive from {spec.url} holds no {ratings_file}. Report it: the layout changed."
    )


def read_movielens_folder(
    folder: str | os.PathLike,
    name: str = "ml-latest-small",
    *,
    source: str | None = None,
    downloaded: bool = False,
) -> Dataset:
    """Read and check one unpacked MovieLens folder (GroupLens's layout for ``name``).

    With ``source="cache"`` the folder is one embedlib verified and cached: a file that no longer matches the
    SHA-256 recorded then (or pinned here) means the cache is damaged, and it is refused rather than trained on.
    """
    from embedlib.movielens_files import LAYOUTS, check_ratings, check_references

    spec = _spec(name)
    folder = Path(folder)
    paths = [folder / f for f in spec.files]
    for path in paths:
        if not path.is_file():
            raise DatasetError(
                f"{path.name} is missing from {folder}. A {name} folder holds {' and '.join(spec.files)} as GroupLens "
                f"ships them; download it again with `embedlib data download {name} --force`."
            )
    hashes = _file_hashes(folder, spec)
    if source == "cache":
        _check_cached_hashes(folder, spec, hashes)
    ratings, movies = LAYOUTS[spec.layout](*paths)
    check_ratings(ratings, spec.scale, paths[0])
    check_references(ratings, movies, paths)
    problems = _differences_from_known(spec, ratings, movies, hashes)
    if problems and downloaded and spec.archive_hash is None:
        raise DatasetError(
            f"The download of {name} is not the known release ({'; '.join(problems)}). It was deleted. GroupLens may "
            "have published a new version: report it."
        )
    if problems:
        warnings.warn(
            f"{folder} loaded, but it is not the known {name} release ({'; '.join(problems)}). Results may differ "
            "from the lessons' text.",
            UnknownVersionWarning,
            stacklevel=2,
        )
    return Dataset(
        name,
        ratings,
        movies,
        spec.scale,
        source or str(folder),
        known_version=not problems,
        fingerprint=_fingerprint(spec, hashes),
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _file_hashes(folder: Path, spec: DatasetSpec) -> dict[str, str]:
    return {f: _sha256(folder / f) for f in spec.files if (folder / f).is_file()}


def _fingerprint(spec: DatasetSpec, hashes: dict[str, str]) -> str:
    text = json.dumps({"name": spec.name, "files": hashes}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _check_cached_hashes(folder: Path, spec: DatasetSpec, hashes: dict[str, str]) -> None:
    manifest = folder / MANIFEST
    expected = json.loads(manifest.read_text()) if manifest.is_file() else dict(spec.known.sha256)
    damaged = [f for f, h in expected.items() if hashes.get(f) != h]
    if damaged:
        raise DatasetError(
            f"The cached copy of {spec.name} in {folder} is damaged: {', '.join(damaged)} no longer "
            f"match{'es' if len(damaged) == 1 else ''} the SHA-256 recorded when it was downloaded and verified. "
            f"Nothing was loaded. Fetch it again with `embedlib data download {spec.name} --force` (or delete "
            f"{folder} and run again)."
        )


def _differences_from_known(
    spec: DatasetSpec, ratings: pd.DataFrame, movies: pd.DataFrame, hashes: dict[str, str]
) -> list[str]:
    known = spec.known
    found = {
        "ratings": (len(ratings), known.n_ratings),
        "users": (ratings["userId"].nunique(), known.n_users),
        "rated movies": (ratings["movieId"].nunique(), known.n_rated_movies),
        "movies": (len(movies), known.n_movies),
    }
    problems = [f"{what}: {got:,}, expected {want:,}" for what, (got, want) in found.items() if got != want]
    if not problems:
        problems = [f"{f} differs from the pinned SHA-256" for f, h in known.sha256.items() if hashes.get(f) != h]
    return problems
