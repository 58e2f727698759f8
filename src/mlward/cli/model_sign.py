"""``mlward model sign`` / ``mlward model verify``: OpenSSF model signatures from the CLI.

The command functions only parse arguments, load keys, call ``mlward.model.signing``
and print the result. Exit codes: 0 verified / signed, 1 verification failed (the
result is printed first), 2 usage or key problem, 3 could not read or write a file;
errors other than a failed verification propagate as ``MlwardError`` to the entry point,
which prints them on one line with their exit code.

Without ``--key`` / ``--public-key`` the commands use the loaders installed with
``set_key_loaders`` (the CLI entry point installs the workspace keyring's); with none
installed they stop with a usage error that says which option to pass.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from mlward.cli.context import resolve_format
from mlward.cli.options import format_option
from mlward.cli.output import OutputFormat, console, emit_json
from mlward.core.errors import ConfigError
from mlward.crypto.digests import DEFAULT_SHARD_SIZE

# The signing stack (the cryptography package) loads when a command signs or verifies, not
# when the ``model`` group is built for ``model scan``.
if TYPE_CHECKING:
    from mlward.crypto.signing import SigningKey, VerifyingKey
    from mlward.model.signing import SignResult, VerifyResult

    PrivateKeyLoader = Callable[[], SigningKey]
    PublicKeyLoader = Callable[[], VerifyingKey | Sequence[VerifyingKey]]


@dataclass
class KeyLoaders:
    """Where keys come from when the user names no key file."""

    private_key_loader: PrivateKeyLoader | None = None
    """Returns the signing key (the workspace key, once wired)."""
    public_key_loader: PublicKeyLoader | None = None
    """Returns the trusted verification key(s) (the workspace public keys, once wired)."""


_loaders = KeyLoaders()


def set_key_loaders(
    *,
    private_key_loader: PrivateKeyLoader | None = None,
    public_key_loader: PublicKeyLoader | None = None,
) -> None:
    """Install the default key sources used when ``--key`` / ``--public-key`` are omitted."""
    _loaders.private_key_loader = private_key_loader
    _loaders.public_key_loader = public_key_loader


class Method(enum.StrEnum):
    """How the model is cut into hashed units."""

    files = "files"
    shards = "shards"


# Options shared by ``sign`` and ``verify``.
IgnoreOption = Annotated[
    list[str] | None,
    typer.Option("--ignore", help="Model-relative path to leave out (repeatable)."),
]
FormatOption = Annotated[OutputFormat | None, format_option()]


def sign(
    path: Annotated[Path, typer.Argument(help="Model file or directory to sign.")],
    key: Annotated[
        Path | None,
        typer.Option("--key", "-k", help="PEM private key (default: the workspace key)."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Signature file (default: PATH/model.sig)."),
    ] = None,
    method: Annotated[
        Method,
        typer.Option(help="files: interoperable default; shards: parallel within big files."),
    ] = Method.files,
    shard_size: Annotated[
        int, typer.Option(min=1, help="Shard size in bytes (shards method).")
    ] = DEFAULT_SHARD_SIZE,
    ignore: IgnoreOption = None,
    fmt: FormatOption = None,
) -> None:
    """Sign a model in the OpenSSF model-signing v1.0 format (Sigstore bundle)."""
    from mlward.crypto.signing import load_private_key
    from mlward.model.signing import sign_model

    chosen = resolve_format(fmt)
    private_key = load_private_key(key) if key else _workspace_private_key()
    result = sign_model(
        path,
        private_key,
        method="shards" if method is Method.shards else "files",
        ignore_paths=ignore or (),
        output=output,
        shard_size=shard_size,
    )
    if chosen is OutputFormat.json:
        emit_json(result.to_dict())
    else:
        console.print(_sign_table(result))


def verify(
    path: Annotated[Path, typer.Argument(help="Model file or directory to verify.")],
    signature: Annotated[
        Path | None,
        typer.Option("--signature", "-s", help="Signature file (default: PATH/model.sig)."),
    ] = None,
    public_key: Annotated[
        Path | None,
        typer.Option("--public-key", "-k", help="PEM public key (default: the workspace key)."),
    ] = None,
    ignore: IgnoreOption = None,
    fmt: FormatOption = None,
) -> None:
    """Verify a model against its signature; exit 1 naming every changed, missing or extra file."""
    from mlward.crypto.signing import load_public_key
    from mlward.model.signing import ModelVerificationError, default_signature_path, verify_model

    chosen = resolve_format(fmt)
    verifying_key = load_public_key(public_key) if public_key else _workspace_public_key()
    try:
        result = verify_model(
            path,
            signature if signature is not None else default_signature_path(path),
            verifying_key,
            ignore_paths=ignore or (),
        )
    except ModelVerificationError as exc:
        result = exc.result
    if chosen is OutputFormat.json:
        emit_json(result.to_dict())
    else:
        console.print(_verify_table(result))
    if not result.verified:
        raise typer.Exit(code=1)


def _workspace_private_key() -> SigningKey:
    if _loaders.private_key_loader is None:
        raise ConfigError("no signing key", hint="pass --key PATH to a PEM private key")
    return _loaders.private_key_loader()


def _workspace_public_key() -> VerifyingKey | Sequence[VerifyingKey]:
    if _loaders.public_key_loader is None:
        raise ConfigError("no public key", hint="pass --public-key PATH to a PEM public key")
    return _loaders.public_key_loader()


def _human_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.2f} {unit}"
        size /= 1000
    return f"{size:.2f} GB"


def _facts_table(title: str) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("fact", no_wrap=True)
    table.add_column("value", overflow="fold")  # digests stay whole on narrow terminals
    return table


def _sign_table(result: SignResult) -> Table:
    table = _facts_table("Model signed")
    table.add_row("model", escape(f"{result.model_name} ({result.model_path})"))
    table.add_row("signature", escape(str(result.signature_path)))
    table.add_row("method", result.method)
    table.add_row("files", f"{result.file_count} ({_human_bytes(result.total_bytes)})")
    table.add_row("resources", str(len(result.resources)))
    table.add_row("root sha256", result.root_digest)
    table.add_row("key hint", result.key_hint)
    table.add_row("ignored", escape(", ".join(result.ignore_paths) or "-"))
    return table


def _verify_table(result: VerifyResult) -> Table:
    if result.verified:
        table = _facts_table("Model verified")
        table.add_row("model", escape(f"{result.model_name} ({result.model_path})"))
        table.add_row("signature", escape(str(result.signature_path)))
        table.add_row("method", result.method or "-")
        table.add_row("files", f"{result.file_count} ({_human_bytes(result.total_bytes)})")
        table.add_row("root sha256", result.root_digest or "-")
        return table
    table = Table(title=escape(f"Verification FAILED: {result.model_path}"), title_justify="left")
    table.add_column("problem")
    table.add_column("file")
    table.add_column("detail")
    for failure in result.failures:
        # File names come from the model: escape them so they are not read as Rich markup.
        table.add_row(failure.kind.value, escape(failure.path or "(signature)"), escape(failure.detail))
    return table
