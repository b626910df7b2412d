"""Third-party datasets of Section F: MovieLens ml-latest-small and ETHICS commonsense.

No dataset file is committed to the repository. Each loader finds its data in one of two
places, in this order:

1. a local folder: the ``data_dir`` argument, or else the environment variable
   ``AVC_DATA_DIR``. The folder has the layout ::

       movielens/ml-latest-small/ratings.csv
       movielens/ml-latest-small/movies.csv
       ethics/commonsense/cm_test.csv

2. otherwise the official archive, downloaded once with :mod:`pooch` into
   :func:`avc.paths.cache_dir` and checked against its SHA-256.

What is read is validated (columns, row counts, label values). A missing or malformed
file raises an error that names the file and the two ways to provide it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from avc.paths import cache_dir, file_sha256, import_pooch

__all__ = [
    "DatasetNotFoundError",
    "DatasetValidationError",
    "ETHICS_ARCHIVE",
    "MOVIELENS_ARCHIVE",
    "MovieLens",
    "RemoteArchive",
    "fetch_archive",
    "ethics_items",
    "load_ethics",
    "load_movielens",
    "load_movielens_tags",
    "movielens_items",
    "resolve_data_dir",
]


class DatasetNotFoundError(FileNotFoundError):
    """A dataset file could not be found locally or downloaded."""


class DatasetValidationError(ValueError):
    """A dataset file was read but does not look like the expected release."""


@dataclass(frozen=True)
class RemoteArchive:
    """An official download: where it is, how to check it, where its files sit inside.

    ``sha256`` is the checksum of the archive itself, or ``None`` where upstream publishes
    none; ``member_sha256`` maps a member's path (relative to ``subdir``) to the checksum
    that member must have after extraction.
    """

    name: str
    url: str
    filename: str
    sha256: str | None
    subdir: str
    """Folder inside the archive whose content is laid out as ``AVC_DATA_DIR/<local_root>``."""
    local_root: str
    """Where the same content sits in a local data folder (``AVC_DATA_DIR``)."""
    member_sha256: tuple[tuple[str, str], ...] = ()


MOVIELENS_ARCHIVE = RemoteArchive(
    name="MovieLens ml-latest-small",
    url="https://files.grouplens.org/datasets/movielens/ml-latest-small.zip",
    filename="ml-latest-small.zip",
    sha256="696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
    subdir="ml-latest-small",
    local_root="movielens/ml-latest-small",
)

ETHICS_ARCHIVE = RemoteArchive(
    name="ETHICS",
    url="https://people.eecs.berkeley.edu/~hendrycks/ethics.tar",
    filename="ethics.tar",
    sha256=None,  # upstream publishes no checksum for the tar; we check the member below
    subdir="ethics",
    local_root="ethics",
    member_sha256=(
        (
            "commonsense/cm_test.csv",
            "a004f51b8f863d85eb5575d86e8723897f850fcb7fc8de38c1f30105dfb13c4d",
        ),
    ),
)

MOVIELENS_RATINGS_COLUMNS = ("userId", "movieId", "rating", "timestamp")
MOVIELENS_MOVIES_COLUMNS = ("movieId", "title", "genres")
MOVIELENS_TAGS_COLUMNS = ("userId", "movieId", "tag", "timestamp")
MOVIELENS_TAGS_ROWS = 3_683
ETHICS_COLUMNS = ("label", "input", "is_short", "edited")
MOVIELENS_RATINGS_ROWS = 100_836
MOVIELENS_MOVIES_ROWS = 9_742
ETHICS_TEST_ROWS = 3_885


class MovieLens(NamedTuple):
    """MovieLens ml-latest-small: ``ratings`` and ``movies`` (unpacks as a pair)."""

    ratings: pd.DataFrame
    movies: pd.DataFrame


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path | None:
    """The local data folder to read from: ``data_dir``, else ``AVC_DATA_DIR``, else None."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get("AVC_DATA_DIR")
    return Path(env).expanduser() if env else None


def _how_to_provide(relative_paths: list[str], archive: RemoteArchive) -> str:
    files = "\n".join(f"    <folder>/{p}" for p in relative_paths)
    return (
        "Provide it in one of two ways:\n"
        f"  1. set AVC_DATA_DIR to a folder holding\n{files}\n"
        "     (the layout of shared/data in this project), or pass data_dir=...;\n"
        f"  2. leave AVC_DATA_DIR unset on a machine with internet: {archive.name} is then\n"
        f"     downloaded once from {archive.url}\n"
        f"     into {cache_dir()} (set AVC_CACHE_DIR to change that folder)."
    )


def fetch_archive(archive: RemoteArchive, target_dir: str | os.PathLike | None = None) -> Path:
    """Download and unpack ``archive`` (once) and return the folder ``archive.subdir``.

    The archive's SHA-256 is checked by pooch when known; the members listed in
    ``archive.member_sha256`` are checked after extraction. A failed download raises
    :class:`DatasetNotFoundError`; a checksum mismatch raises
    :class:`DatasetValidationError`.
    """
    pooch = import_pooch()
    target = Path(target_dir) if target_dir is not None else cache_dir()
    processor = pooch.Unzip() if archive.filename.endswith(".zip") else pooch.Untar()
    known_hash = f"sha256:{archive.sha256}" if archive.sha256 else None
    try:
        extracted = pooch.retrieve(
            archive.url,
            known_hash=known_hash,
            fname=archive.filename,
            path=target,
            processor=processor,
            progressbar=False,
        )
    except ValueError as err:  # pooch reports a hash mismatch as ValueError
        raise DatasetValidationError(
            f"The download of {archive.name} from {archive.url} does not match its "
            f"published SHA-256 ({archive.sha256}): {err}. Delete {target / archive.filename} "
            "and retry, or point AVC_DATA_DIR at a verified copy."
        ) from err
    except Exception as err:  # network errors come in many classes (requests, OSError, ...)
        raise DatasetNotFoundError(
            f"Could not download {archive.name} from {archive.url}: {err}.\n"
            + _how_to_provide([f"{archive.local_root}/..."], archive)
        ) from err
    roots = {Path(p).parent for p in extracted}
    candidates = sorted(
        {parent for root in roots for parent in (root, *root.parents) if parent.name == archive.subdir},
        key=lambda p: len(p.parts),
    )
    if not candidates:
        raise DatasetValidationError(
            f"The archive {archive.filename} has no folder named {archive.subdir!r}; "
            f"it extracted {len(extracted)} files under {target}."
        )
    folder = candidates[0]
    for member, expected in archive.member_sha256:
        path = folder / member
        if not path.is_file():
            raise DatasetValidationError(f"The archive {archive.filename} lacks {archive.subdir}/{member}.")
        actual = file_sha256(path)
        if actual != expected:
            raise DatasetValidationError(
                f"{path} has SHA-256 {actual}, expected {expected}: this is not the release "
                "the book was written for. Point AVC_DATA_DIR at a verified copy."
            )
    return folder


def _dataset_folder(archive: RemoteArchive, inner: str, needed: list[str], data_dir, download: bool) -> Path:
    """The folder holding the ``needed`` files, ``inner`` below the archive's root.

    Local (``data_dir`` or ``AVC_DATA_DIR``) when set, else downloaded.
    """
    relative = "/".join(part for part in (archive.local_root, inner) if part)
    wanted = [f"{relative}/{name}" for name in needed]
    local = resolve_data_dir(data_dir)
    if local is not None:
        folder = local / relative
        missing = [w for w, name in zip(wanted, needed) if not (folder / name).is_file()]
        if missing:
            source = "data_dir" if data_dir is not None else "AVC_DATA_DIR"
            raise DatasetNotFoundError(
                f"{archive.name}: {source}={local} lacks "
                + ", ".join(missing)
                + ".\n"
                + _how_to_provide(wanted, archive)
            )
        return folder
    if not download:
        if (cache_dir() / archive.filename).is_file():  # downloaded before: no network needed
            return fetch_archive(archive) / inner
        raise DatasetNotFoundError(
            f"{archive.name} is not available locally (AVC_DATA_DIR is unset) and "
            "download=False.\n" + _how_to_provide(wanted, archive)
        )
    return fetch_archive(archive) / inner


def _read_checked(path: Path, columns: tuple[str, ...], n_rows: int | None, **read_kw) -> pd.DataFrame:
    """Read a CSV and check its header and (when ``n_rows`` is given) its row count."""
    try:
        frame = pd.read_csv(path, **read_kw)
    except Exception as err:
        raise DatasetValidationError(f"Could not parse {path} as CSV: {err}") from err
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DatasetValidationError(
            f"{path} lacks the column(s) {missing}; it has {list(frame.columns)}. "
            f"Expected columns: {list(columns)}."
        )
    if n_rows is not None and len(frame) != n_rows:
        raise DatasetValidationError(
            f"{path} has {len(frame):,} rows, expected {n_rows:,}: this is not the release the "
            "book was written for (or the file is truncated). Use the official file, or pass "
            "strict=False to read it anyway."
        )
    return frame[list(columns)]


def load_movielens(
    data_dir: str | os.PathLike | None = None, *, strict: bool = True, download: bool = True
) -> MovieLens:
    """MovieLens ml-latest-small as ``MovieLens(ratings, movies)``.

    ``ratings``: userId, movieId, rating (0.5–5.0 stars), timestamp (100,836 rows).
    ``movies``: movieId, title (with year), genres joined by ``|`` (9,742 rows).
    ``strict=False`` skips the row-count checks (for small test fixtures); the columns
    and the rating range are always checked. ``download=False`` never touches the
    network.
    """
    folder = _dataset_folder(MOVIELENS_ARCHIVE, "", ["ratings.csv", "movies.csv"], data_dir, download)
    ratings = _read_checked(
        folder / "ratings.csv", MOVIELENS_RATINGS_COLUMNS, MOVIELENS_RATINGS_ROWS if strict else None
    )
    movies = _read_checked(
        folder / "movies.csv", MOVIELENS_MOVIES_COLUMNS, MOVIELENS_MOVIES_ROWS if strict else None
    )
    bad = ratings["rating"].isna() | ~ratings["rating"].between(0.5, 5.0)
    if bad.any():
        raise DatasetValidationError(
            f"{folder / 'ratings.csv'} has {int(bad.sum())} rating(s) outside 0.5–5.0 stars."
        )
    unknown = set(ratings["movieId"]) - set(movies["movieId"])
    if unknown:
        raise DatasetValidationError(
            f"{len(unknown)} movieId(s) in ratings.csv are missing from movies.csv "
            f"(e.g. {sorted(unknown)[:3]})."
        )
    return MovieLens(ratings=ratings, movies=movies)


def load_ethics(
    data_dir: str | os.PathLike | None = None, *, strict: bool = True, download: bool = True
) -> pd.DataFrame:
    """The ETHICS commonsense-morality test split (``cm_test.csv``, 3,885 rows).

    Columns: ``label`` (1 = the first-person action is clearly morally wrong, 0 = it is
    not), ``input`` (the scenario), ``is_short`` (True for 1–2 sentence scenarios),
    ``edited``. ``strict=False`` skips the row-count check.
    """
    folder = _dataset_folder(ETHICS_ARCHIVE, "commonsense", ["cm_test.csv"], data_dir, download)
    path = folder / "cm_test.csv"
    frame = _read_checked(path, ETHICS_COLUMNS, ETHICS_TEST_ROWS if strict else None)
    labels = set(frame["label"].unique())
    if not labels <= {0, 1}:
        raise DatasetValidationError(f"{path}: labels must be 0 or 1, found {sorted(labels)}.")
    for flag in ("is_short", "edited"):
        if frame[flag].dtype != bool:
            raise DatasetValidationError(
                f"{path}: column {flag!r} must hold True/False, found dtype {frame[flag].dtype}."
            )
    return frame


def load_movielens_tags(
    data_dir: str | os.PathLike | None = None, *, strict: bool = True, download: bool = True
) -> pd.DataFrame:
    """MovieLens ml-latest-small user tags: userId, movieId, tag, timestamp (3,683 rows)."""
    folder = _dataset_folder(MOVIELENS_ARCHIVE, "", ["tags.csv"], data_dir, download)
    return _read_checked(folder / "tags.csv", MOVIELENS_TAGS_COLUMNS, MOVIELENS_TAGS_ROWS if strict else None)


ETHICS_ITEM_SEED = 2025
"""Seed of the draw of ETHICS scenarios for Section F."""


def ethics_items(
    n_items: int = 1000, seed: int = ETHICS_ITEM_SEED, data_dir=None, *, strict: bool = True
) -> pd.DataFrame:
    """The ETHICS scenarios scored in Section F, in a fixed random order.

    The draw: the *short* scenarios of the commonsense test split (``is_short``, one or two
    sentences written by crowd workers; 2,109 of the 3,885 rows), shuffled with
    ``numpy.random.default_rng(seed)``; the first ``n_items`` are kept. A prefix of the
    order is itself a uniform random sample, so a partially recorded panel is unbiased.

    Columns: ``item_id`` (``"ethics-<row in cm_test.csv>"``), ``text`` (the scenario),
    ``label`` (1 = the action is clearly morally wrong, 0 = not wrong).
    """
    import numpy as np

    frame = load_ethics(data_dir, strict=strict)
    short = frame[frame["is_short"]]
    if not 0 < n_items <= len(short):
        raise ValueError(f"n_items must be between 1 and {len(short)} (the short scenarios); got {n_items}.")
    order = np.random.default_rng(seed).permutation(short.index.to_numpy())[:n_items]
    chosen = frame.loc[order]
    return pd.DataFrame(
        {
            "item_id": [f"ethics-{i}" for i in order],
            "text": chosen["input"].str.strip().to_numpy(),
            "label": chosen["label"].to_numpy(),
        }
    )


MOVIELENS_ITEM_SEED = 2025
"""Seed of the order in which Section F's movies are listed (and recorded)."""


def movielens_items(
    min_ratings: int = 21,
    n_tags: int = 3,
    seed: int = MOVIELENS_ITEM_SEED,
    data_dir=None,
    *,
    strict: bool = True,
) -> pd.DataFrame:
    """The movies scored in Section F: every movie with at least ``min_ratings`` ratings
    (the paper's "more than 20"; 1,235 movies), in an order shuffled with
    ``numpy.random.default_rng(seed)`` so that a prefix is a uniform random sample.

    Columns: ``item_id`` (``"movie-<movieId>"``), ``text`` (title with year, genres, and the
    ``n_tags`` most frequent user tags when there are any), ``mean_rating`` (the target, in
    stars from 0.5 to 5), ``n_ratings``.
    """
    ratings, movies = load_movielens(data_dir, strict=strict)
    tags = load_movielens_tags(data_dir, strict=strict)
    stats = ratings.groupby("movieId")["rating"].agg(["mean", "count"])
    stats = stats[stats["count"] >= min_ratings]
    import numpy as np

    stats = stats.iloc[np.random.default_rng(seed).permutation(len(stats))]
    top_tags = (
        tags.assign(tag=tags["tag"].astype(str).str.strip().str.lower())
        .groupby(["movieId", "tag"])
        .size()
        .rename("n")
        .reset_index()
        .sort_values(["movieId", "n", "tag"], ascending=[True, False, True])
        .groupby("movieId")["tag"]
        .apply(lambda s: ", ".join(s.head(n_tags)))
    )
    chosen = movies.set_index("movieId").loc[stats.index]
    texts = []
    for movie_id, row in chosen.iterrows():
        genres = ", ".join(g for g in row["genres"].split("|") if g != "(no genres listed)") or "unknown"
        text = f"{row['title']}\nGenres: {genres}"
        if movie_id in top_tags.index:
            text += f"\nTags: {top_tags[movie_id]}"
        texts.append(text)
    return pd.DataFrame(
        {
            "item_id": [f"movie-{m}" for m in stats.index],
            "text": texts,
            "mean_rating": stats["mean"].to_numpy(),
            "n_ratings": stats["count"].to_numpy(),
        }
    )
