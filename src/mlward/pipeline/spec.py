"""The ``pipeline:`` section of mlward.yaml and the stage DAG it describes.

Each stage has a ``kind`` (a built-in stage type) and kind-specific options next to the
common keys. Dependencies are inferred: a stage that reads an input another stage
writes (a path, or a ref such as ``dataset:applications`` or ``model:credit-risk``)
runs after it; ``needs:`` adds explicit edges.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlward.core.config import format_validation_error
from mlward.core.errors import ConfigError


class StageSpec(BaseModel):
    """Keys every stage accepts; the rest are validated by the stage's kind."""

    model_config = ConfigDict(extra="allow")

    kind: str
    needs: list[str] = Field(default_factory=list)
    inputs: list[str] = Field(default_factory=list)
    outputs: list[str] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)
    code: list[str] = Field(default_factory=list)
    """Files whose content is part of the cache key (a training script, ...)."""
    description: str = ""

    def options(self) -> dict[str, Any]:
        """The kind-specific keys."""
        return dict(self.model_extra or {})


class PipelineSpec(BaseModel):
    """``pipeline: {stages: {...}}``."""

    model_config = ConfigDict(extra="forbid")

    stages: dict[str, StageSpec] = Field(default_factory=dict)
    workers: int = Field(default=2, ge=1, le=16)


def normalize_io(item: str) -> str:
    """Canonical form of an input/output: refs as given, paths normalised."""
    if ":" in item.split("/")[0]:
        return item
    return str(PurePosixPath(item.replace("\\", "/")))


@dataclass(frozen=True)
class PlannedStage:
    """A stage ready to run: its spec, validated options and full inputs / outputs."""

    name: str
    spec: StageSpec
    options: BaseModel
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


def load_pipeline(raw: Mapping[str, Any], source: str = "mlward.yaml") -> PipelineSpec:
    """Validate the ``pipeline`` section."""
    try:
        return PipelineSpec.model_validate(dict(raw))
    except ValidationError as exc:
        raise ConfigError(
            format_validation_error(f"{source}: pipeline", exc).replace(": pipeline: ", ": pipeline.")
        ) from exc


def plan(
    spec: PipelineSpec, kinds: Mapping[str, Any], source: str = "mlward.yaml"
) -> tuple[dict[str, PlannedStage], nx.DiGraph]:
    """Validate every stage's options and build the dependency graph."""
    planned: dict[str, PlannedStage] = {}
    for name, stage in spec.stages.items():
        kind = kinds.get(stage.kind)
        if kind is None:
            raise ConfigError(
                f"{source}: pipeline.stages.{name}.kind: unknown stage kind {stage.kind!r}; "
                f"choose one of: {', '.join(sorted(kinds))}"
            )
        try:
            options = kind.Options.model_validate(stage.options())
        except ValidationError as exc:
            message = format_validation_error(f"{source}: pipeline.stages.{name}", exc)
            raise ConfigError(message.replace(f"stages.{name}: ", f"stages.{name}.")) from exc
        implicit_in, implicit_out = kind.io(options)
        inputs = tuple(dict.fromkeys(normalize_io(i) for i in [*stage.inputs, *implicit_in]))
        outputs = tuple(dict.fromkeys(normalize_io(o) for o in [*stage.outputs, *implicit_out]))
        planned[name] = PlannedStage(name, stage, options, inputs, outputs)
    graph = nx.DiGraph()
    for index, name in enumerate(planned):
        graph.add_node(name, index=index)
    producers: dict[str, str] = {}
    for name, step in planned.items():
        for output in step.outputs:
            if output in producers and producers[output] != name:
                raise ConfigError(
                    f"{source}: pipeline: {output!r} is an output of both {producers[output]!r} and {name!r}"
                )
            producers[output] = name
    for name, step in planned.items():
        for item in step.inputs:
            producer = producers.get(item)
            if producer and producer != name:
                graph.add_edge(producer, name)
        for need in step.spec.needs:
            if need not in planned:
                raise ConfigError(f"{source}: pipeline.stages.{name}.needs: no stage named {need!r}")
            graph.add_edge(need, name)
    if not nx.is_directed_acyclic_graph(graph):
        cycle = nx.find_cycle(graph)
        raise ConfigError(
            f"{source}: pipeline: stages depend on each other in a cycle: {' -> '.join(a for a, _ in cycle)}"
        )
    return planned, graph


def select(graph: nx.DiGraph, wanted: Iterable[str]) -> list[str]:
    """The wanted stages plus everything upstream of them, in a stable topological order."""
    wanted = list(wanted)
    if not wanted:
        chosen = set(graph.nodes)
    else:
        missing = [w for w in wanted if w not in graph]
        if missing:
            raise ConfigError(
                f"no pipeline stage named {', '.join(map(repr, missing))}", hint="see 'mlward run --list'"
            )
        chosen = set(wanted)
        for name in wanted:
            chosen |= nx.ancestors(graph, name)
    order = list(nx.lexicographical_topological_sort(graph, key=lambda n: graph.nodes[n]["index"]))
    return [n for n in order if n in chosen]
