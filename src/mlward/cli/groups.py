"""The heavy command groups, built on demand by ``cli.lazy`` (see ``cli.main``)."""

from __future__ import annotations

import typer
from typer.core import TyperGroup

from mlward.cli.context import STATE
from mlward.cli.lazy import LazyCommand


def data_app() -> typer.Typer:
    """``mlward data ...``."""
    from mlward.cli import data_catalog, data_contract, data_pii, data_trust

    app = typer.Typer(
        help="DataOps security: versions, PII, protection, contracts, drift, outliers, fairness.",
        no_args_is_help=True,
        add_completion=False,
    )
    for name in ("add", "ls", "show", "diff", "checkout", "search", "tag"):
        app.command(name)(getattr(data_catalog, name))
    data_pii.register(app)  # scan, protect, reveal, encrypt, decrypt
    data_pii.set_loaders(
        data_key=lambda: STATE.workspace().keys.data_key(),
        all_data_keys=lambda: list(STATE.workspace().keys.data_keys().values()),
    )
    app.command("validate")(data_contract.validate)
    contract = typer.Typer(
        help="Data contracts: infer from data, import ODCS v3.", no_args_is_help=True, add_completion=False
    )
    contract.command("infer")(data_contract.contract_infer)
    contract.command("import")(data_contract.contract_import)
    app.add_typer(contract, name="contract")
    app.command("profile")(data_trust.profile)
    app.command("drift")(data_trust.drift)
    app.command("fairness")(data_trust.fairness)
    outliers = typer.Typer(
        help="Outlier detectors: fit on reference data, score new rows.",
        no_args_is_help=True,
        add_completion=False,
    )
    outliers.command("fit")(data_trust.outliers_fit)
    outliers.command("score")(data_trust.outliers_score)
    app.add_typer(outliers, name="outliers")
    return app


def model_app() -> TyperGroup:
    """``mlward model ...``."""
    from mlward.cli import model_registry, model_scan, model_sign

    app = typer.Typer(
        help="Model supply chain: scan, sign, register, promote, load.",
        no_args_is_help=True,
        add_completion=False,
    )
    app.command("scan")(model_scan.scan)
    app.command("sign")(model_sign.sign)
    app.command("verify")(model_sign.verify)
    app.command("register")(model_registry.register)
    app.command("ls")(model_registry.ls)
    app.command("show")(model_registry.show)
    app.command("promote")(model_registry.promote)
    app.command("verify-stored")(model_registry.verify_stored)
    app.command("load")(model_registry.load)
    app.command("export")(model_registry.export)
    app.command("bom")(model_registry.bom)
    model_sign.set_key_loaders(
        private_key_loader=lambda: STATE.workspace().keys.signing_key(),
        public_key_loader=lambda: list(STATE.workspace().keys.public_keys().values()),
    )
    group = typer.main.get_group(app)
    # data_trust pulls in the whole drift stack (scipy, pyarrow, numpy); only ``model fairness``
    # needs it, so ``model scan`` and ``model verify`` must not pay for it at start-up.
    group.add_command(
        LazyCommand(
            "fairness",
            "mlward.cli.data_trust:fairness",
            "Check fairness of data (label rates) or of a model's predictions; exit 1 if a limit fails.",
        ),
        "fairness",
    )
    group.add_command(
        LazyCommand(
            "privacy",
            "mlward.cli.model_privacy:privacy",
            "Membership-inference attacks on a model (members vs held-out rows); exit 1 if it leaks.",
        ),
        "privacy",
    )
    return group


def deps_app() -> typer.Typer:
    """``mlward deps ...``."""
    from mlward.cli import deps

    app = typer.Typer(
        help="Dependency vulnerability audit (OSV).", no_args_is_help=True, add_completion=False
    )
    app.command("audit")(deps.audit)
    return app


def tokens_app() -> typer.Typer:
    """``mlward tokens ...``."""
    from mlward.cli import tokens

    app = typer.Typer(help="API tokens of the inference gateway.", no_args_is_help=True, add_completion=False)
    app.command("create")(tokens.create)
    app.command("ls")(tokens.ls)
    app.command("revoke")(tokens.revoke)
    app.command("signing-secret")(tokens.signing_secret)
    return app
