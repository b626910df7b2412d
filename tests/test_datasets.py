"""avc.panels.datasets on fixtures the tests write themselves, a local HTTP server, and AVC_DATA_DIR."""

import functools
import hashlib
import http.server
import importlib.util
import io
import os
import tarfile
import threading
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from avc.panels import datasets

RATINGS = "userId,movieId,rating,timestamp\r\n1,1,4.0,964982703\r\n1,3,4.5,964981247\r\n2,1,0.5,964982224\r\n"
MOVIES = 'movieId,title,genres\r\n1,Toy Story (1995),Adventure|Animation\r\n3,"Grumpier Old Men, The (1995)",Comedy\r\n'
ETHICS = 'label,input,is_short,edited\n1,I took the last cookie.,True,False\n0,"I helped,\nthen left.",False,False\n'


def write_local_layout(root: Path, ratings=RATINGS, movies=MOVIES, ethics=ETHICS) -> Path:
    ml = root / "movielens" / "ml-latest-small"
    cm = root / "ethics" / "commonsense"
    ml.mkdir(parents=True)
    cm.mkdir(parents=True)
    (ml / "ratings.csv").write_text(ratings, newline="")
    (ml / "movies.csv").write_text(movies, newline="")
    (cm / "cm_test.csv").write_text(ethics, newline="")
    return root


def test_local_folder_is_read_and_checked(tmp_path):
    root = write_local_layout(tmp_path)
    ratings, movies = datasets.load_movielens(root, strict=False)
    assert list(ratings.columns) == ["userId", "movieId", "rating", "timestamp"]
    assert len(ratings) == 3 and movies.loc[1, "title"] == "Grumpier Old Men, The (1995)"
    ethics = datasets.load_ethics(root, strict=False)
    assert ethics["label"].tolist() == [1, 0]
    assert ethics.loc[1, "input"] == "I helped,\nthen left."  # embedded newline kept
    assert ethics["is_short"].tolist() == [True, False]


def test_env_variable_is_honoured(tmp_path, monkeypatch):
    root = write_local_layout(tmp_path)
    monkeypatch.setenv("AVC_DATA_DIR", str(root))
    assert len(datasets.load_movielens(strict=False).ratings) == 3


def test_strict_mode_rejects_a_fixture_with_the_wrong_row_count(tmp_path):
    root = write_local_layout(tmp_path)
    with pytest.raises(datasets.DatasetValidationError, match="has 3 rows, expected 100,836"):
        datasets.load_movielens(root)
    with pytest.raises(datasets.DatasetValidationError, match="has 2 rows, expected 3,885"):
        datasets.load_ethics(root)


def test_missing_file_names_the_file_and_both_remedies(tmp_path):
    root = write_local_layout(tmp_path)
    (root / "ethics" / "commonsense" / "cm_test.csv").unlink()
    with pytest.raises(datasets.DatasetNotFoundError) as info:
        datasets.load_ethics(root)
    message = str(info.value)
    assert "ethics/commonsense/cm_test.csv" in message
    assert "AVC_DATA_DIR" in message and datasets.ETHICS_ARCHIVE.url in message


def test_no_local_data_and_no_download_is_explained(monkeypatch):
    monkeypatch.delenv("AVC_DATA_DIR", raising=False)
    with pytest.raises(datasets.DatasetNotFoundError, match="download=False"):
        datasets.load_movielens(download=False)


@pytest.mark.parametrize(
    "ratings, movies, message",
    [
        (RATINGS.replace("rating,", "stars,"), MOVIES, "lacks the column"),
        (RATINGS.replace("4.5", "7.0"), MOVIES, "outside 0.5"),
        # just past each end of the 0.5-5 star scale: a widened check would let these through
        (RATINGS.replace("4.5", "5.5"), MOVIES, "outside 0.5"),
        (RATINGS.replace("0.5", "0.0"), MOVIES, "outside 0.5"),
        (RATINGS.replace("1,3,4.5", "1,99,4.5"), MOVIES, "missing from movies.csv"),
    ],
)
def test_malformed_movielens_is_rejected(tmp_path, ratings, movies, message):
    root = write_local_layout(tmp_path, ratings=ratings, movies=movies)
    with pytest.raises(datasets.DatasetValidationError, match=message):
        datasets.load_movielens(root, strict=False)


def test_malformed_ethics_labels_are_rejected(tmp_path):
    root = write_local_layout(tmp_path, ethics=ETHICS.replace("\n1,I took", "\n2,I took"))
    with pytest.raises(datasets.DatasetValidationError, match="labels must be 0 or 1"):
        datasets.load_ethics(root, strict=False)


@pytest.fixture
def local_server(tmp_path):
    """An HTTP server on 127.0.0.1 serving tmp_path/served; yields its base URL."""
    served = tmp_path / "served"
    served.mkdir()

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(QuietHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield served, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def zip_bytes(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def test_download_checks_the_archive_checksum_and_unpacks(tmp_path, local_server):
    served, base = local_server
    payload = zip_bytes({"ml-latest-small/ratings.csv": RATINGS, "ml-latest-small/movies.csv": MOVIES})
    (served / "ml.zip").write_bytes(payload)
    archive = replace(
        datasets.MOVIELENS_ARCHIVE,
        url=f"{base}/ml.zip",
        filename="ml.zip",
        sha256=hashlib.sha256(payload).hexdigest(),
    )
    folder = datasets.fetch_archive(archive, tmp_path / "cache")
    assert folder.name == "ml-latest-small"
    assert (folder / "ratings.csv").read_bytes().decode() == RATINGS
    # a second call finds the cached copy, even with the server gone
    (served / "ml.zip").unlink()
    assert datasets.fetch_archive(archive, tmp_path / "cache") == folder


def test_download_with_wrong_checksum_is_rejected(tmp_path, local_server):
    served, base = local_server
    (served / "ml.zip").write_bytes(zip_bytes({"ml-latest-small/ratings.csv": RATINGS}))
    archive = replace(datasets.MOVIELENS_ARCHIVE, url=f"{base}/ml.zip", filename="ml.zip", sha256="0" * 64)
    with pytest.raises(datasets.DatasetValidationError, match="does not match"):
        datasets.fetch_archive(archive, tmp_path / "cache")


def test_tar_member_checksum_is_verified(tmp_path, local_server):
    served, base = local_server
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        data = ETHICS.encode()
        info = tarfile.TarInfo("ethics/commonsense/cm_test.csv")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    (served / "e.tar").write_bytes(buffer.getvalue())
    good = replace(
        datasets.ETHICS_ARCHIVE,
        url=f"{base}/e.tar",
        filename="e.tar",
        member_sha256=(("commonsense/cm_test.csv", hashlib.sha256(ETHICS.encode()).hexdigest()),),
    )
    folder = datasets.fetch_archive(good, tmp_path / "good")
    assert (folder / "commonsense" / "cm_test.csv").is_file()
    bad = replace(good, member_sha256=(("commonsense/cm_test.csv", "f" * 64),))
    with pytest.raises(datasets.DatasetValidationError, match="not the release"):
        datasets.fetch_archive(bad, tmp_path / "bad")


def test_unreachable_server_gives_both_remedies(tmp_path, local_server):
    served, base = local_server  # nothing is served under this name: the server answers 404
    archive = replace(datasets.MOVIELENS_ARCHIVE, url=f"{base}/absent.zip", filename="absent.zip")
    with pytest.raises(datasets.DatasetNotFoundError, match="AVC_DATA_DIR"):
        datasets.fetch_archive(archive, tmp_path / "cache")


@pytest.mark.skipif(
    not os.environ.get("AVC_DATA_DIR"), reason="AVC_DATA_DIR is not set: no local copy of the datasets"
)
def test_real_datasets_from_avc_data_dir():
    ratings, movies = datasets.load_movielens()
    assert len(ratings) == 100_836 and len(movies) == 9_742
    assert ratings["userId"].nunique() == 610
    assert ratings["rating"].min() == 0.5 and ratings["rating"].max() == 5.0
    ethics = datasets.load_ethics()
    assert len(ethics) == 3_885
    assert ethics["label"].value_counts().to_dict() == {0: 2069, 1: 1816}
    assert ethics["is_short"].sum() == 2109


_FAKE_KERNEL = """
import sys, types
sys.modules["ipykernel.zmqshell"] = types.ModuleType("ipykernel.zmqshell")
import IPython
class ZMQInteractiveShell:  # what tqdm.autonotebook looks for to decide it runs in Jupyter
    pass
IPython.get_ipython = ZMQInteractiveShell
"""


@pytest.mark.parametrize(
    "importer, warns",
    [
        ("import pooch", True),  # the control: without the filter, tqdm warns in a kernel
        ("from avc.paths import import_pooch; import_pooch()", False),
    ],
)
def test_pooch_is_imported_without_the_ipywidgets_warning_box(importer, warns):
    """pooch imports tqdm.auto, which warns in a Jupyter kernel without ipywidgets; the book's
    pages showed that warning as a stderr box until avc.paths.import_pooch filtered it."""
    import subprocess
    import sys

    pytest.importorskip("IPython")
    if importlib.util.find_spec("ipywidgets") is not None:
        pytest.skip("ipywidgets is installed: tqdm has nothing to warn about")
    run = subprocess.run([sys.executable, "-c", _FAKE_KERNEL + importer], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-500:]
    assert ("IProgress not found" in run.stderr) == warns, run.stderr[-500:]
