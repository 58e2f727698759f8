from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlward.core.errors import IntegrityError, NotFound
from mlward.store.objects import ObjectStore


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return ObjectStore(tmp_path / "objects")


def test_put_get_round_trip_and_dedupe(store: ObjectStore, tmp_path: Path):
    source = tmp_path / "model.bin"
    data = os.urandom(3 * (8 << 20) + 17)  # crosses chunk boundaries
    source.write_bytes(data)
    first = store.put_file(source)
    assert first.digest == hashlib.sha256(data).hexdigest()
    assert first.created and first.size == len(data)
    again = store.put_bytes(data)
    assert again.digest == first.digest and not again.created
    assert store.get_bytes(first.digest) == data
    out = store.get_file(first.digest, tmp_path / "out" / "copy.bin")
    assert out.read_bytes() == data
    assert list(store.digests()) == [first.digest]
    blob = Path(store.path_of(first.digest))
    assert blob.stat().st_mode & 0o222 == 0  # stored read-only


@settings(max_examples=30, deadline=None)
@given(st.binary(max_size=4096))
def test_round_trip_property(tmp_path_factory, data: bytes):
    store = ObjectStore(tmp_path_factory.mktemp("objs"))
    info = store.put_bytes(data)
    assert store.get_bytes(info.digest) == data
    assert info.digest == hashlib.sha256(data).hexdigest()


def test_corrupted_blob_is_never_returned(store: ObjectStore, tmp_path: Path):
    info = store.put_bytes(b"weights" * 1000)
    blob = Path(store.path_of(info.digest))
    blob.chmod(0o644)
    raw = bytearray(blob.read_bytes())
    raw[100] ^= 0xFF
    blob.write_bytes(bytes(raw))
    with pytest.raises(IntegrityError, match="corrupted"):
        store.get_bytes(info.digest)
    with pytest.raises(IntegrityError):
        store.verify(info.digest)
    destination = tmp_path / "checkout.bin"
    with pytest.raises(IntegrityError):
        store.get_file(info.digest, destination)
    assert not destination.exists()
    assert not list(tmp_path.glob(".checkout.bin.*"))


def test_missing_blob_and_bad_digest(store: ObjectStore):
    with pytest.raises(NotFound):
        store.get_bytes("0" * 64)
    with pytest.raises(NotFound, match="not a sha256 digest"):
        store.get_bytes("../../etc/passwd")


_SLOW_WRITER = r"""
import sys, time
from mlward.store.objects import ObjectStore

class Slow:
    def __init__(self):
        self.sent = 0
    def read(self, n):
        if self.sent >= 64 << 20:
            return b""
        if self.sent == 16 << 20:
            print("half", flush=True)
            time.sleep(60)
        self.sent += 1 << 20
        return b"x" * (1 << 20)

ObjectStore(sys.argv[1]).put_stream(Slow())
"""


def test_writer_killed_mid_write_leaves_no_visible_blob(store: ObjectStore, tmp_path: Path):
    proc = subprocess.Popen(
        [sys.executable, "-c", _SLOW_WRITER, store.root], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "half"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert list(store.digests()) == []
    full = hashlib.sha256(b"x" * (64 << 20)).hexdigest()
    assert not store.exists(full)
    assert store.clean_temporary() == 1
    # The store still works after the crash.
    info = store.put_bytes(b"after crash")
    assert store.get_bytes(info.digest) == b"after crash"


def test_concurrent_writers_of_same_content(store: ObjectStore, tmp_path: Path):
    payload = tmp_path / "p.bin"
    payload.write_bytes(os.urandom(1 << 20))
    code = (
        "import sys; from mlward.store.objects import ObjectStore; "
        "print(ObjectStore(sys.argv[1]).put_file(sys.argv[2]).digest)"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, store.root, str(payload)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    digests = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert len(digests) == 1
    store.verify(digests.pop())
    time.sleep(0)
    assert len(list(store.digests())) == 1


def test_fsspec_memory_backend_round_trip():
    store = ObjectStore(f"memory://mlward-test-{os.getpid()}")
    info = store.put_bytes(b"remote bytes")
    assert store.exists(info.digest)
    assert store.get_bytes(info.digest) == b"remote bytes"
    assert store.put_bytes(b"remote bytes").created is False


@pytest.fixture
def s3_endpoint(monkeypatch: pytest.MonkeyPatch):
    """A real S3-protocol server (moto, standalone, on 127.0.0.1 and a free port).

    moto and s3fs are dev dependencies: when they are missing the test fails, it is not skipped.
    The endpoint reaches s3fs through fsspec's own configuration (what ``FSSPEC_S3_ENDPOINT_URL``
    or ``~/.config/fsspec/s3.json`` set), since ``object_store`` is a bare URL.
    """
    import fsspec.config
    from moto.server import ThreadedMotoServer

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    monkeypatch.setitem(fsspec.config.conf, "s3", {"endpoint_url": endpoint, "use_listings_cache": False})
    try:
        yield endpoint
    finally:
        server.stop()


def test_s3_object_store_round_trip_on_a_real_s3_server(s3_endpoint: str, tmp_path: Path):
    import boto3
    import s3fs

    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket="mlward-blobs")
    store = ObjectStore("s3://mlward-blobs/team/objects")
    assert isinstance(store.fs, s3fs.S3FileSystem) and not store.is_local
    assert store.fs.endpoint_url == s3_endpoint  # the local server, never AWS

    data = os.urandom((8 << 20) + 1234)  # more than one CHUNK: a multi-part upload
    source = tmp_path / "model.bin"
    source.write_bytes(data)
    first = store.put_file(source)
    assert first.created and first.size == len(data) and first.digest == hashlib.sha256(data).hexdigest()
    small = store.put_bytes(b"remote bytes")
    assert store.put_bytes(b"remote bytes").created is False
    assert store.put_file(source).created is False  # uploaded again, then found a duplicate

    # The blobs really are objects on the server, under their digest, and no temporary key is left.
    keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket="mlward-blobs")["Contents"])
    expected = sorted(f"team/objects/{d[:2]}/{d[2:]}" for d in (first.digest, small.digest))
    assert keys == expected
    assert sorted(store.digests()) == sorted([first.digest, small.digest])
    assert store.exists(first.digest) and store.size(first.digest) == len(data)

    assert store.get_bytes(small.digest) == b"remote bytes"
    assert store.get_file(first.digest, tmp_path / "back.bin").read_bytes() == data
    store.verify(first.digest)

    # Bytes changed behind the store's back (on the server): verify and reads refuse them.
    key = store.path_of(first.digest).removeprefix("mlward-blobs/")
    client.put_object(Bucket="mlward-blobs", Key=key, Body=b"tampered")
    tampered = first.digest
    with pytest.raises(IntegrityError):
        store.verify(tampered)
    with pytest.raises(IntegrityError):
        store.get_bytes(tampered)
    store.delete(small.digest)
    assert not store.exists(small.digest)
    with pytest.raises(NotFound):
        store.get_bytes(small.digest)
