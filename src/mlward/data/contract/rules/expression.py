"""Cross-column rules: a SQL boolean expression evaluated on every row.

``loan_amount <= income * 2`` is parsed by Polars' SQL front end (``pl.sql_expr``)
into a native expression -- no Python is evaluated, and the contract model refuses
subqueries and statement separators, so an expression cannot read files or run other
statements. With ``engine: duckdb`` (if the optional ``duckdb`` package is installed)
the same expression runs in an in-memory DuckDB with file system access disabled and
the configuration locked. Rows where the expression is false fail; rows where it is
null (a null operand) are not checked.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from mlward.core.optional import require
from mlward.data.contract.rules.interface import BatchContext, Example, Rule, RuleState


class ExpressionRule(Rule):
    """A row-level SQL boolean expression over the columns."""

    kind = "sql"

    def __init__(self, name: str, sql: str, engine: str = "polars", **options: Any) -> None:
        expression = pl.sql_expr(sql)
        columns = tuple(sorted(set(expression.meta.root_names())))
        super().__init__(f"rule.{name}", columns, {"sql": sql, "engine": engine}, **options)
        self.sql = sql
        self.engine = engine
        if engine == "duckdb":
            duckdb_module()

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_expression"}

    def _polars(self) -> pl.Expr:
        # Parsed once per process; Polars expressions are rebuilt from text on workers.
        if "_expression" not in self.__dict__:
            self.__dict__["_expression"] = pl.sql_expr(self.sql)
        expression: pl.Expr = self.__dict__["_expression"]
        return expression

    def map(self, ctx: BatchContext) -> RuleState:
        """Evaluate the expression on the batch's typed columns."""
        missing = [c for c in self.columns if not ctx.has(c)]
        if missing:
            return RuleState(error=f"column {missing[0]!r} is missing from the data")
        typed = pl.DataFrame([ctx.coerced(c).values for c in self.columns]) if self.columns else ctx.frame
        if self.engine == "duckdb":
            verdict = self._duckdb(typed)
        else:
            verdict = typed.select(self._polars().alias("_ok")).to_series()
        if verdict.len() == 1 and ctx.rows != 1:
            verdict = pl.repeat(verdict[0], ctx.rows, eager=True)
        if verdict.dtype != pl.Boolean:
            return RuleState(error=f"the expression gives {verdict.dtype}, not true/false")
        breaking = verdict.not_().fill_null(False)
        failing = int(breaking.sum())
        examples = []
        if failing:
            for row in breaking.arg_true().head(self.max_examples).to_list():
                shown = ", ".join(
                    f"{c}={ctx.masker.show(c, ctx.frame.get_column(c)[row])}" for c in self.columns
                )
                examples.append(Example(row, ctx.key_of(row), shown))
        return RuleState(verdict.len() - verdict.null_count(), failing, examples)

    def _duckdb(self, frame: pl.DataFrame) -> pl.Series:
        duckdb = duckdb_module()
        connection = duckdb.connect(
            ":memory:", config={"enable_external_access": False, "lock_configuration": True, "threads": 1}
        )
        try:
            connection.register("data", frame.to_arrow())
            # The model already refused query keywords and ';' in ``sql``.
            table = connection.sql(f"SELECT ({self.sql}) AS _ok FROM data").to_arrow_table()  # noqa: S608
        finally:
            connection.close()
        series = pl.from_arrow(table.column("_ok"))
        assert isinstance(series, pl.Series)
        return series

    def describe(self) -> str:
        """The expression."""
        return self.sql


def duckdb_module() -> Any:
    """Import DuckDB, or say which extra brings it (or use the default engine: polars)."""
    return require("duckdb", feature="contract rules with engine: duckdb")
