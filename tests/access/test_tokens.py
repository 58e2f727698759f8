"""API keys: issued once, stored as keyed hashes, listed, revoked; on SQLite and PostgreSQL; CLI."""

from __future__ import annotations

from datetime import timedelta

import pytest
import typer
from sqlalchemy import select
from typer.testing import CliRunner

from mlward.access.tokens import (
    TokenVerifier,
    create_token,
    list_tokens,
    parse_duration,
    parse_token,
    revoke_token,
)
from mlward.access.tokens_models import ApiToken
from mlward.core.errors import AccessDenied, ConfigError


def test_issue_verify_list_revoke(any_workspace):
    ws = any_workspace
    issued = create_token(ws, ["predictor"], name="ci", expires_in=timedelta(days=30))
    token_id, secret = parse_token(issued.token)
    assert token_id == issued.info.id and len(secret) == 43
    with ws.metadata.session() as session:
        row = session.scalars(select(ApiToken)).one()
        assert row.secret_hash != secret and len(row.secret_hash) == 64
        assert secret not in repr(row.__dict__)
    verifier = TokenVerifier(ws, cache_seconds=0)
    info, reason = verifier.verify(issued.token)
    assert reason == "ok" and info.roles == ("predictor",) and info.expires is not None
    assert verifier.verify(issued.token[:-1] + ("A" if issued.token[-1] != "A" else "B")) == (
        None,
        "unknown token or wrong secret",
    )
    assert [t.id for t in list_tokens(ws)] == [token_id]
    revoke_token(ws, token_id)
    assert verifier.verify(issued.token) == (None, "token revoked")
    actions = [e.action for e in ws.audit.query(action="token.*")]
    assert actions == ["token.create", "token.revoke"]


def test_the_database_file_never_holds_the_token(workspace):
    issued = create_token(workspace, ["admin"])
    secret = parse_token(issued.token)[1]
    workspace.close()
    data = b"".join(p.read_bytes() for p in workspace.state_dir.glob("mlward.db*"))
    assert secret.encode() not in data and issued.signing_secret.encode() not in data


def test_only_local_admins_issue_tokens(workspace, monkeypatch):
    monkeypatch.setenv("MLWARD_PRINCIPAL", "mallory")
    with pytest.raises(AccessDenied):
        create_token(workspace, ["admin"])
    assert workspace.audit.query(action="access.denied")[-1].actor == "mallory"
    monkeypatch.setenv("MLWARD_PRINCIPAL", "tester")
    with pytest.raises(ConfigError, match="unknown role"):
        create_token(workspace, ["root"])


def test_durations():
    assert parse_duration("30d") == timedelta(days=30)
    assert parse_duration("90m") == timedelta(minutes=90)
    for bad in ("0d", "30", "d", "-1h", "1y"):
        with pytest.raises(ConfigError):
            parse_duration(bad)


def test_cli_commands(workspace):
    from mlward.cli import tokens as tokens_cli
    from mlward.cli.context import STATE

    app = typer.Typer()
    app.command("create")(tokens_cli.create)
    app.command("ls")(tokens_cli.ls)
    app.command("revoke")(tokens_cli.revoke)
    STATE.workspace_dir = workspace.root
    runner = CliRunner()
    try:
        created = runner.invoke(app, ["create", "--role", "predictor", "--name", "demo", "--expires", "7d"])
        assert created.exit_code == 0, created.output
        token = created.stdout.splitlines()[0]
        assert parse_token(token) is not None and "signing secret:" in created.stdout
        listed = runner.invoke(app, ["ls", "--format", "json"])
        assert listed.exit_code == 0 and '"name": "demo"' in listed.stdout
        assert token not in listed.stdout and parse_token(token)[1] not in listed.stdout
        revoked = runner.invoke(app, ["revoke", parse_token(token)[0]])
        assert revoked.exit_code == 0 and "revoked" in revoked.stdout
    finally:
        STATE.close()
        STATE.workspace_dir = None


def test_unknown_ids_and_wrong_secrets_cost_the_same_work(workspace, monkeypatch):
    """Known id + wrong secret and unknown id take the same path: same hashes, reads, compares."""
    import hmac as hmac_module

    import mlward.access.tokens as tokens_module
    from mlward.serve.auth import Authenticator, AuthFailure

    issued = create_token(workspace, ["predictor"])
    token_id, secret = parse_token(issued.token)
    auth = Authenticator(workspace, cache_seconds=30)
    auth.authenticate(f"Bearer {issued.token}")  # the known id is now cached as a verified key
    calls: dict[str, int] = {}

    def counted(name, function):
        def wrapper(*args, **kwargs):
            calls[name] = calls.get(name, 0) + 1
            return function(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(tokens_module, "_secret_hash", counted("secret_hash", tokens_module._secret_hash))
    monkeypatch.setattr(hmac_module, "compare_digest", counted("compare", hmac_module.compare_digest))
    monkeypatch.setattr(workspace.metadata, "session", counted("db_read", workspace.metadata.session))

    def work(credential: str) -> dict[str, int]:
        calls.clear()
        with pytest.raises(AuthFailure) as failure:
            auth.authenticate(f"Bearer {credential}")
        assert failure.value.reason == "unknown token or wrong secret"
        return dict(calls)

    other_secret = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    unknown_id = ("0" if token_id[0] != "0" else "1") + token_id[1:]
    wrong_secret = [work(f"mlw_{token_id}_{other_secret}") for _ in range(3)]
    unknown = [work(f"mlw_{unknown_id}_{other_secret}") for _ in range(3)]
    assert wrong_secret == unknown == [{"secret_hash": 1, "db_read": 1, "compare": 1}] * 3
