"""The topic DAG: call budget, acyclic by construction, near-duplicates merged, save/load, Mermaid/DOT."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from edgefabric.config import TopicsConfig
from edgefabric.errors import EdgeFabricError
from edgefabric.events import EventLog, StageStarted
from edgefabric.pipeline.generate.topics import TopicGraph, build_topic_graph, planned_calls
from tests.generate.conftest import make_teacher
from tests.generate.teacher_server import TeacherServer


def _path(body: dict[str, Any]) -> str:
    text = body["messages"][-1]["content"]
    return next(line for line in text.splitlines() if line.startswith("Topic path:"))


def test_the_call_budget_is_known_before_running() -> None:
    assert planned_calls(1, 5) == 1
    assert planned_calls(2, 3) == 4
    assert planned_calls(3, 3) == 13


async def test_graph_is_a_dag_with_the_planned_number_of_calls(server: TeacherServer) -> None:
    # Every subtopic asks to be related to node 0..2: only earlier nodes may be linked.
    def subtopics(schema: dict[str, Any], body: dict[str, Any]) -> Any:
        assert _path(body)
        return {"subtopics": [{"title": server.script.words(4), "related": [1, 2, 99]} for _ in range(3)]}

    server.script.responder = subtopics
    log = EventLog()
    config = TopicsConfig(prompt="Household budgets", depth=2, degree=3)
    graph = await build_topic_graph(make_teacher(server), config, on_event=log)
    assert log.of_type(StageStarted)[0].total == 4
    assert len(server.requests) == 4
    assert len(graph.nodes) == 1 + 3 + 9
    assert all(source < target for source, target in graph.edges)
    assert {leaf.depth for leaf in graph.leaves()} == {2}
    cross = [(s, t) for s, t in graph.edges if graph.nodes[t].parent != s]
    assert cross, "cross-links to earlier nodes are kept"
    assert all(s != 99 for s, _ in cross)


async def test_near_duplicate_subtopics_are_merged(server: TeacherServer) -> None:
    server.script.responder = lambda schema, body: {
        "subtopics": [
            {"title": "Saving for a holiday"},
            {"title": "saving for a  holiday!"},
            {"title": "Saving for holidays"},
        ]
    }
    config = TopicsConfig(prompt="Money", depth=1, degree=3, similarity_threshold=0.85)
    graph = await build_topic_graph(make_teacher(server), config)
    assert [node.title for node in graph.nodes[1:]] == ["Saving for a holiday"]
    assert graph.merged == 2
    assert "Saving for holidays" in graph.nodes[1].aliases


async def test_a_failed_expansion_leaves_a_leaf_and_a_note(server: TeacherServer) -> None:
    from tests.generate.teacher_server import Fault

    server.faults.extend([Fault(wrong_schema=True)] * 3)
    graph = await build_topic_graph(make_teacher(server), TopicsConfig(prompt="Money", depth=2, degree=2))
    assert len(graph.nodes) == 1
    assert graph.leaves() == graph.nodes[:1]


def _graph() -> TopicGraph:
    return TopicGraph.model_validate(
        {
            "prompt": "p",
            "depth": 2,
            "degree": 2,
            "similarity_threshold": 0.85,
            "nodes": [
                {"id": 0, "title": "p", "depth": 0, "path": ["p"]},
                {"id": 1, "title": 'say "hi"', "depth": 1, "parent": 0, "path": ["p", 'say "hi"']},
                {"id": 2, "title": "b", "depth": 1, "parent": 0, "path": ["p", "b"]},
            ],
            "edges": [[0, 1], [0, 2], [1, 2]],
        }
    )


def test_save_load_round_trip_and_exports(tmp_path: Path) -> None:
    graph = _graph()
    graph.save(tmp_path / "topics.json")
    loaded = TopicGraph.load(tmp_path / "topics.json")
    assert loaded == graph
    assert json.loads((tmp_path / "topics.json").read_text())["version"] == 1
    assert "n0 --> n1" in graph.to_mermaid() and "#quot;hi#quot;" in graph.to_mermaid()
    assert "n1 -> n2;" in graph.to_dot() and 'say \\"hi\\"' in graph.to_dot()
    assert [leaf.id for leaf in graph.leaves()] == [2]


def test_a_cyclic_or_newer_file_is_refused_with_a_fix(tmp_path: Path) -> None:
    data = json.loads(_graph().model_dump_json())
    data["edges"].append([2, 1])
    (tmp_path / "cyclic.json").write_text(json.dumps(data))
    with pytest.raises(EdgeFabricError, match="earlier node") as info:
        TopicGraph.load(tmp_path / "cyclic.json")
    assert info.value.fix
    data["version"] = 99
    (tmp_path / "new.json").write_text(json.dumps(data))
    with pytest.raises(EdgeFabricError, match="newer"):
        TopicGraph.load(tmp_path / "new.json")


def test_topics_show_prints_a_tree_mermaid_or_dot(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from edgefabric.cli import app

    _graph().save(tmp_path / "topics.json")
    runner = CliRunner()
    tree = runner.invoke(app, ["topics", "show", str(tmp_path / "topics.json")])
    assert tree.exit_code == 0 and "3 topics, 1 leaves" in tree.output and "also under" in tree.output
    assert runner.invoke(app, ["topics", "show", str(tmp_path / "topics.json"), "--mermaid"]).output.startswith(
        "graph TD"
    )
    assert "digraph topics" in runner.invoke(app, ["topics", "show", str(tmp_path / "topics.json"), "--dot"]).output
    both = runner.invoke(app, ["topics", "show", str(tmp_path / "topics.json"), "--dot", "--mermaid"])
    assert both.exit_code != 0 and isinstance(both.exception, EdgeFabricError)
