"""Fetching missing corpus files from a (local) HTTP server: used only when the file is missing and listed with a
SHA-256, kept only when that matches, and every failure is a DataError that says which key to fix."""

from __future__ import annotations

import functools
import hashlib
import os
import re
import socket
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from helpers import DATA_DIR
from omegaconf import OmegaConf

from rnnlab.data import TaggingDataModule
from rnnlab.data.conllu_reader import UPOS_TAGS
from rnnlab.data.download import ensure_file, sha256_of
from rnnlab.errors import DataError
from rnnlab.run.config import CONFIG_DIR

DEV = "en_ewt-ud-dev.conllu"
KEY = "task.data.dev_file"


def recorded_sha256() -> dict[str, str]:
    """The checksums SOURCES.md records for the EWT files, by file name."""
    sources = (DATA_DIR / "SOURCES.md").read_text()
    return dict((name, digest) for digest, name in re.findall(r"([0-9a-f]{64})\s+ud_english_ewt/(\S+)", sources))


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture
def serve():
    """serve(directory) -> (base URL, list of the paths requested so far) of a server on 127.0.0.1."""
    servers = []

    def start(directory: Path) -> tuple[str, list[str]]:
        requests = []

        class Handler(QuietHandler):
            def do_GET(self):
                requests.append(self.path)
                super().do_GET()

        server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(directory)))
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_address[1]}/", requests

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def remote(tmp_path, serve):
    """A served directory holding small.conllu: (base URL, requests, its bytes, its SHA-256)."""
    directory = tmp_path / "remote"
    directory.mkdir()
    data = b"1\tHello\thello\tINTJ\tUH\t_\t0\troot\t_\t_\n"
    (directory / "small.conllu").write_bytes(data)
    url, requests = serve(directory)
    return url, requests, data, hashlib.sha256(data).hexdigest()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_an_existing_file_is_used_as_it_is(tmp_path, remote):
    url, requests, _, digest = remote
    path = tmp_path / "local" / "small.conllu"
    path.parent.mkdir()
    path.write_text("my own copy\n")
    assert ensure_file(path, KEY, {"base_url": url, "sha256": {"small.conllu": digest}}) == path
    assert path.read_text() == "my own copy\n"
    assert requests == []


def test_a_missing_listed_file_is_downloaded_and_verified(tmp_path, remote):
    url, requests, data, digest = remote
    path = tmp_path / "new" / "dir" / "small.conllu"  # its folder is created too
    assert ensure_file(str(path), KEY, {"base_url": url.rstrip("/"), "sha256": {"small.conllu": digest}}) == path
    assert path.read_bytes() == data
    assert requests == ["/small.conllu"]
    assert os.listdir(path.parent) == ["small.conllu"]  # no partial file left over
    # Once there, it is not fetched again.
    assert ensure_file(path, KEY, {"base_url": url, "sha256": {"small.conllu": digest}}) == path
    assert requests == ["/small.conllu"]


def test_the_real_dev_file_downloads_and_matches_sources_md(tmp_path, serve):
    corpus = DATA_DIR / "ud_english_ewt"
    assert (corpus / DEV).is_file(), f"{corpus / DEV} is missing; see ../shared/data/SOURCES.md"
    url, requests = serve(corpus)
    path = tmp_path / DEV
    assert ensure_file(path, KEY, {"base_url": url, "sha256": {DEV: recorded_sha256()[DEV]}}) == path
    assert requests == [f"/{DEV}"]
    assert path.read_bytes() == (corpus / DEV).read_bytes()
    assert sha256_of(path) == recorded_sha256()[DEV]


def test_the_pos_task_downloads_what_sources_md_records():
    download = OmegaConf.load(CONFIG_DIR / "task" / "pos.yaml").task.data.download
    assert dict(download.sha256) == recorded_sha256()
    assert "15d613d8447b3478787d4c278730a1e48a945efb" in download.base_url  # the commit SOURCES.md names


def test_a_checksum_mismatch_keeps_nothing(tmp_path, remote):
    url, requests, _, _ = remote
    path = tmp_path / "local" / "small.conllu"
    with pytest.raises(DataError, match=f"SHA-256 .*expected {'0' * 64}; the download was discarded"):
        ensure_file(path, KEY, {"base_url": url, "sha256": {"small.conllu": "0" * 64}})
    assert requests == ["/small.conllu"]
    assert not path.exists() and os.listdir(path.parent) == []  # no file, no .part file


@pytest.mark.parametrize("server", ["closed port", "file not on the server"])
def test_a_failed_download_says_to_copy_the_file(tmp_path, remote, server):
    url, _, _, digest = remote
    name = "small.conllu" if server == "closed port" else "elsewhere.conllu"
    base_url = closed_port_url() if server == "closed port" else url
    path = tmp_path / "local" / name
    with pytest.raises(DataError) as error:
        ensure_file(path, KEY, {"base_url": base_url, "sha256": {name: digest}})
    message = str(error.value)
    assert message.startswith(f"{KEY}={path} does not exist and downloading {base_url.rstrip('/')}/{name} failed")
    assert "copy the file there" in message and KEY in message.split("copy the file there")[1]
    assert not path.exists() and os.listdir(path.parent) == []


@pytest.mark.parametrize("listed", ["no source", "no checksums", "another file"])
def test_an_unlisted_missing_file_names_its_key(tmp_path, remote, listed):
    url, requests, _, digest = remote
    source = {
        "no source": None,
        "no checksums": {"base_url": url},
        "another file": {"base_url": url, "sha256": {"other.conllu": digest}},
    }[listed]
    path = tmp_path / "small.conllu"
    with pytest.raises(DataError, match=re.escape(f"{KEY}={path} does not exist; put the file there or point {KEY}")):
        ensure_file(path, KEY, source)
    assert requests == [] and not path.exists()


def conllu(*sentences: list[tuple[str, str]]) -> str:
    return "\n".join(
        "\n".join(f"{i}\t{w}\t_\t{t}\t_\t_\t{i - 1}\tdep\t_\t_" for i, (w, t) in enumerate(s, start=1)) + "\n"
        for s in sentences
    )


def test_tagging_data_fetches_its_missing_files(tmp_path, serve):
    remote = tmp_path / "remote"
    remote.mkdir()
    (remote / "train.conllu").write_text(conllu([("Dogs", "NOUN"), ("bark", "VERB")], [("Hi", "INTJ")]))
    (remote / "dev.conllu").write_text(conllu([("Cats", "NOUN"), ("bark", "VERB")]))
    url, requests = serve(remote)
    local = tmp_path / "corpus"
    download = {"base_url": url, "sha256": {n: sha256_of(remote / n) for n in ("train.conllu", "dev.conllu")}}
    dm = TaggingDataModule(
        train_file=str(local / "train.conllu"), dev_file=str(local / "dev.conllu"), download=download
    )
    # Missing but fetched when read: the splits are there to train and to show (scripts/show_data.py), not yet fetched.
    assert dm.has_split("train") and dm.has_split("val") and requests == []
    dm.setup("fit")
    assert sorted(requests) == ["/dev.conllu", "/train.conllu"]
    assert sorted(os.listdir(local)) == ["dev.conllu", "train.conllu"]
    assert [s.words for s in dm.sentences("train")] == [("Dogs", "bark"), ("Hi",)]
    assert dm.vocab.labels == list(UPOS_TAGS)  # tag_set=upos: the 17 universal tags, whatever the file holds
    assert len(dm.split("train")) == 2 and len(dm.split("val")) == 1
    assert not dm.has_split("test")


def test_tagging_data_without_download_names_the_missing_file(tmp_path):
    dm = TaggingDataModule(train_file=str(tmp_path / "train.conllu"), dev_file=str(tmp_path / "dev.conllu"))
    with pytest.raises(DataError, match=re.escape(f"task.data.train_file={tmp_path / 'train.conllu'} does not exist")):
        dm.setup("fit")
