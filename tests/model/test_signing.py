"""Model signing: interop with the reference ``model_signing`` tool, and every tampering.

The model is real: a scikit-learn pipeline saved with joblib, a safetensors file written
by the safetensors library, a config.json, a nested tokenizer file and a .git folder.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from model_signing import hashing as ref_hashing
from model_signing import signing as ref_signing
from model_signing import verifying as ref_verifying
from safetensors.numpy import save_file
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from mlward.core.errors import ConfigError, InputError, exit_code
from mlward.crypto.signing import Statement, Subject, load_public_key, sign_statement
from mlward.model.signing import (
    PREDICATE_TYPE,
    ModelVerificationError,
    sign_model,
    verify_model,
)

REFERENCE_CLI = str(Path(sys.executable).parent / "model_signing")


@pytest.fixture(scope="session")
def model_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small but real model directory, built once per session."""
    root = tmp_path_factory.mktemp("models") / "credit-model"
    (root / "tokenizer").mkdir(parents=True)
    (root / ".git").mkdir()
    rng = np.random.default_rng(7)
    features = rng.normal(size=(200, 4))
    labels = (features[:, 0] + features[:, 1] > 0).astype(int)
    joblib.dump(LogisticRegression().fit(features, labels), root / "model.joblib")
    save_file(
        {"dense.weight": rng.normal(size=(64, 32)).astype(np.float32)},
        str(root / "model.safetensors"),
    )
    (root / "config.json").write_text(json.dumps({"n_features": 4, "classes": [0, 1]}))
    (root / "tokenizer" / "vocab.txt").write_text("age\nincome\ndebt\nsavings\n")
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    return root


@pytest.fixture
def model(model_source: Path, tmp_path: Path) -> Path:
    """A private copy of the model each test may tamper with."""
    return Path(shutil.copytree(model_source, tmp_path / model_source.name))


def _write_keypair(directory: Path, name: str) -> tuple[ec.EllipticCurvePrivateKey, Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    private, public = directory / f"{name}.pem", directory / f"{name}.pub"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return key, private, public


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory):
    directory = tmp_path_factory.mktemp("keys")
    return _write_keypair(directory, "signer"), _write_keypair(directory, "other")


def _reference(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([REFERENCE_CLI, *args], capture_output=True, text=True, timeout=120, check=False)


def _failures(excinfo: pytest.ExceptionInfo[ModelVerificationError]) -> set[tuple[str, str]]:
    return {(f.kind.value, f.path or "") for f in excinfo.value.result.failures}


# --- interop with the reference tool ---------------------------------------------------


def test_reference_cli_verifies_what_mlward_signs(model: Path, keys) -> None:
    (key, _, public), _ = keys
    result = sign_model(model, key)
    assert result.signature_path == model / "model.sig"
    assert [r.name for r in result.resources] == [
        "config.json",
        "model.joblib",
        "model.safetensors",
        "tokenizer/vocab.txt",
    ]
    done = _reference(
        "verify", "key", "--signature", str(result.signature_path),
        "--public_key", str(public), str(model),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Verification succeeded" in done.stdout


def test_reference_cli_rejects_a_tampered_mlward_signed_model(model: Path, keys) -> None:
    (key, _, public), _ = keys
    sign_model(model, key)
    (model / "config.json").write_text(json.dumps({"n_features": 5}))
    done = _reference(
        "verify", "key", "--signature", str(model / "model.sig"),
        "--public_key", str(public), str(model),
    )  # fmt: skip
    assert done.returncode != 0
    assert "Hash mismatch for 'config.json'" in done.stderr


def test_mlward_verifies_what_the_reference_cli_signs(model: Path, keys) -> None:
    (_, private, public), _ = keys
    signature = model / "model.sig"
    done = _reference("sign", "key", "--private_key", str(private), "--signature", str(signature), str(model))
    assert done.returncode == 0, done.stderr
    result = verify_model(model, signature, load_public_key(public))
    assert result.verified and result.method == "files"
    assert result.model_name == "credit-model"
    assert result.file_count == 4


def test_our_statement_matches_the_reference_statement(model: Path, keys) -> None:
    (key, private, _), _ = keys
    ours = sign_model(model, key, output=model.parent / "ours.sig")
    theirs = model.parent / "theirs.sig"
    assert _reference("sign", "key", "--private_key", str(private),
                      "--signature", str(theirs), str(model)).returncode == 0  # fmt: skip
    payloads = [
        json.loads(base64.b64decode(json.loads(p.read_text())["dsseEnvelope"]["payload"]))
        for p in (ours.signature_path, theirs)
    ]
    for payload in payloads:  # the reference orders ignore_paths by set iteration
        payload["predicate"]["serialization"]["ignore_paths"].sort()
    assert payloads[0] == payloads[1]
    assert payloads[0]["predicateType"] == PREDICATE_TYPE


def test_shards_interop_both_ways(model: Path, keys) -> None:
    (key, private, public), _ = keys
    # mlward -> reference (Python API: the reference CLI only verifies the files method).
    ours = sign_model(model, key, method="shards", shard_size=4096)
    assert any(r.name == "model.safetensors:4096:8192" for r in ours.resources)
    ref_verifying.Config().use_elliptic_key_verifier(public_key=public).verify(model, ours.signature_path)
    # reference -> mlward; the reference writes shard_size as 4096.0 (protobuf Struct).
    theirs = model.parent / "theirs.sig"
    ref_signing.Config().use_elliptic_key_signer(private_key=private).set_hashing_config(
        ref_hashing.Config().use_shard_serialization(shard_size=4096).set_ignored_paths(paths=["model.sig"])
    ).sign(model, theirs)
    assert (
        '"shard_size": 4096.0'
        in base64.b64decode(json.loads(theirs.read_text())["dsseEnvelope"]["payload"]).decode()
    )
    result = verify_model(model, theirs, load_public_key(public))
    assert result.verified and result.method == "shards"


def test_single_file_model_interop(model: Path, keys) -> None:
    (key, _, public), _ = keys
    weights = model / "model.safetensors"
    result = sign_model(weights, key)
    assert result.signature_path == model / "model.safetensors.sig"
    assert [r.name for r in result.resources] == ["."]
    ref_verifying.Config().use_elliptic_key_verifier(public_key=public).verify(weights, result.signature_path)
    weights.write_bytes(weights.read_bytes() + b"\0")
    with pytest.raises(ModelVerificationError) as excinfo:
        verify_model(weights, result.signature_path, key.public_key())
    assert _failures(excinfo) == {("changed", ".")}


# --- tampering -------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["files", "shards"])
def test_changed_missing_and_extra_files_are_all_named(model: Path, keys, method: str) -> None:
    (key, _, _), _ = keys
    result = sign_model(model, key, method=method, shard_size=1024)  # type: ignore[arg-type]
    assert verify_model(model, result.signature_path, key.public_key()).verified
    blob = bytearray((model / "model.safetensors").read_bytes())
    blob[-3] ^= 0x01  # one bit in the last tensor value
    (model / "model.safetensors").write_bytes(bytes(blob))
    (model / "tokenizer" / "vocab.txt").unlink()
    (model / "tokenizer" / "merges.txt").write_text("injected\n")
    with pytest.raises(ModelVerificationError) as excinfo:
        verify_model(model, result.signature_path, key.public_key())
    assert _failures(excinfo) == {
        ("changed", "model.safetensors"),
        ("missing", "tokenizer/vocab.txt"),
        ("extra", "tokenizer/merges.txt"),
    }
    assert not excinfo.value.result.verified
    assert excinfo.value.exit_code == 1
    assert "model.safetensors" in str(excinfo.value)


def test_shard_report_says_where_a_file_changed(model: Path, keys) -> None:
    (key, _, _), _ = keys
    result = sign_model(model, key, method="shards", shard_size=1024)
    weights = model / "model.safetensors"
    blob = bytearray(weights.read_bytes())
    blob[2048] ^= 0xFF
    weights.write_bytes(bytes(blob))
    with pytest.raises(ModelVerificationError) as excinfo:
        verify_model(model, result.signature_path, key.public_key())
    (failure,) = excinfo.value.result.failures
    assert failure.detail == "content differs in byte range(s) 2048-3072"
    weights.write_bytes(bytes(blob[:-10]))
    with pytest.raises(ModelVerificationError, match="size changed"):
        verify_model(model, result.signature_path, key.public_key())


def test_wrong_key(model: Path, keys) -> None:
    (key, _, _), (other, _, _) = keys
    result = sign_model(model, key)
    with pytest.raises(ModelVerificationError) as excinfo:
        verify_model(model, result.signature_path, other.public_key())
    assert _failures(excinfo) == {("wrong-key", "")}


def _edit_bundle(path: Path, edit) -> None:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def _edit_payload(data: dict) -> None:
    envelope = data["dsseEnvelope"]
    statement = json.loads(base64.b64decode(envelope["payload"]))
    statement["predicate"]["resources"][0]["digest"] = "00" * 32
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()


def _flip_signature(data: dict) -> None:
    signature = data["dsseEnvelope"]["signatures"][0]
    raw = bytearray(base64.b64decode(signature["sig"]))
    raw[-1] ^= 0x01
    signature["sig"] = base64.b64encode(bytes(raw)).decode()


@pytest.mark.parametrize(
    ("edit", "kind"),
    [
        (_edit_payload, "bad-signature"),
        (_flip_signature, "bad-signature"),
        (lambda d: d["dsseEnvelope"].update(payloadType="application/json"), "bad-signature"),
        (lambda d: d["verificationMaterial"]["publicKey"].update(hint="ab" * 32), "wrong-key"),
        (lambda d: d.update(mediaType="application/vnd.dev.sigstore.bundle+json"), "malformed"),
    ],
    ids=["payload", "signature", "payload-type", "hint", "media-type"],
)
def test_altered_envelope(model: Path, keys, edit, kind: str) -> None:
    (key, _, _), _ = keys
    result = sign_model(model, key)
    _edit_bundle(result.signature_path, edit)
    with pytest.raises(ModelVerificationError) as excinfo:
        verify_model(model, result.signature_path, key.public_key())
    assert _failures(excinfo) == {(kind, "")}


def test_swapped_envelope_from_another_model_fails_on_files(
    model: Path, model_source: Path, keys, tmp_path: Path
) -> None:
    (key, _, _), _ = keys
    other = tmp_path / "other-model"
    other.mkdir()
    (other / "model.joblib").write_bytes((model_source / "model.joblib").read_bytes())
    (other / "config.json").write_text("{}")
    genuine_elsewhere = sign_model(other, key)
    swapped = model / "model.sig"
    shutil.copyfile(genuine_elsewhere.signature_path, swapped)
    with pytest.raises(ModelVerificationError) as excinfo:
        verify_model(model, swapped, key.public_key())
    assert _failures(excinfo) == {
        ("changed", "config.json"),
        ("extra", "model.safetensors"),
        ("extra", "tokenizer/vocab.txt"),
    }


def _signed_statement(model: Path, key, serialization: dict, resources: list, root: str) -> Path:
    statement = Statement(
        subjects=(Subject(model.name, {"sha256": root}),),
        predicate_type=PREDICATE_TYPE,
        predicate={"serialization": serialization, "resources": resources},
    )
    path = model.parent / "crafted.sig"
    path.write_text(sign_statement(statement, key).to_json())
    return path


def test_signed_ignore_everything_is_not_honoured(model: Path, keys) -> None:
    (key, _, _), _ = keys
    empty_root = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    crafted = _signed_statement(
        model,
        key,
        {"method": "files", "hash_type": "sha256", "allow_symlinks": False, "ignore_paths": ["."]},
        [],
        empty_root,
    )
    with pytest.raises(ModelVerificationError) as excinfo:
        verify_model(model, crafted, key.public_key())
    assert ("extra", "model.joblib") in _failures(excinfo)


def test_resources_that_disagree_with_the_subject_are_malformed(model: Path, keys) -> None:
    (key, _, _), _ = keys
    resources = [{"name": "config.json", "algorithm": "sha256", "digest": "11" * 32}]
    crafted = _signed_statement(
        model, key, {"method": "files", "hash_type": "sha256", "allow_symlinks": False},
        resources, "22" * 32,
    )  # fmt: skip
    with pytest.raises(ModelVerificationError, match="subject digest does not match"):
        verify_model(model, crafted, key.public_key())


def test_unreadable_signature_is_an_input_error(model: Path, keys) -> None:
    (key, _, _), _ = keys
    with pytest.raises(InputError, match="cannot read signature"):
        verify_model(model, model / "absent.sig", key.public_key())


# --- CLI -------------------------------------------------------------------------------


def _cli():
    import typer

    from mlward.cli import model_sign

    app = typer.Typer()
    app.command("sign")(model_sign.sign)
    app.command("verify")(model_sign.verify)
    return app, model_sign


def _exit_code(outcome) -> int:
    """The exit code ``mlward.cli.main.run`` gives: MlwardError propagates to it."""
    return exit_code(outcome.exception) if outcome.exception else outcome.exit_code


def test_cli_sign_verify_and_exit_codes(model: Path, keys) -> None:
    (_, private, public), _ = keys
    app, _ = _cli()
    runner = CliRunner()
    signed = runner.invoke(app, ["sign", str(model), "--key", str(private), "-f", "json"])
    assert signed.exit_code == 0, signed.output
    assert json.loads(signed.stdout)["method"] == "files"
    ok = runner.invoke(app, ["verify", str(model), "--public-key", str(public)])
    assert ok.exit_code == 0 and "Model verified" in ok.stdout
    (model / "config.json").write_text("{}")
    bad = runner.invoke(app, ["verify", str(model), "--public-key", str(public), "-f", "json"])
    assert bad.exit_code == 1
    report = json.loads(bad.stdout)
    assert report["verified"] is False
    assert report["failures"] == [
        {"kind": "changed", "path": "config.json", "detail": report["failures"][0]["detail"]}
    ]
    table = runner.invoke(app, ["verify", str(model), "--public-key", str(public)])
    assert table.exit_code == 1 and "config.json" in table.stdout and "changed" in table.stdout
    no_key = runner.invoke(app, ["verify", str(model)])
    assert isinstance(no_key.exception, ConfigError) and _exit_code(no_key) == 2
    missing = runner.invoke(app, ["verify", str(model), "-s", str(model / "nope.sig"), "-k", str(public)])
    assert isinstance(missing.exception, InputError) and _exit_code(missing) == 3
    sarif = runner.invoke(app, ["sign", str(model), "-k", str(private), "-f", "sarif"])
    assert _exit_code(sarif) == 2
    usage = runner.invoke(app, ["sign", str(model), "--method", "blocks"])
    assert usage.exit_code == 2


def test_cli_uses_the_installed_key_loaders(model: Path, keys) -> None:
    (key, _, _), (other, _, _) = keys
    app, model_sign = _cli()
    model_sign.set_key_loaders(
        private_key_loader=lambda: key,
        public_key_loader=lambda: [other.public_key(), key.public_key()],  # after a rotation
    )
    try:
        runner = CliRunner()
        assert runner.invoke(app, ["sign", str(model), "--method", "shards"]).exit_code == 0
        verified = runner.invoke(app, ["verify", str(model), "-f", "json"])
        assert verified.exit_code == 0
        assert json.loads(verified.stdout)["method"] == "shards"
    finally:
        model_sign.set_key_loaders()
