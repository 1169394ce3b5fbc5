"""Every built-in tool, run for real in the sandbox: its happy path and its errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from edgefabric.runtime.sandbox import ToolBox, ToolSession


def ok(session: ToolSession, tool: str, /, **arguments: Any) -> Any:
    result = session.call(tool, arguments)
    assert result.ok, result.content
    assert result.error_kind is None and result.elapsed_ms > 0
    return json.loads(result.content)


def fails(session: ToolSession, tool: str, kind: str = "tool_error", /, **arguments: Any) -> str:
    result = session.call(tool, arguments)
    assert not result.ok, result.content
    assert result.error_kind == kind, result
    return result.content


# files ---------------------------------------------------------------------------------------


def test_files_write_read_list_search_delete(session: ToolSession) -> None:
    assert ok(session, "write_file", path="notes/a.txt", content="buy milk\n")["bytes"] == 9
    ok(session, "write_file", path="notes/a.txt", content="call Dana\n", append=True)
    assert ok(session, "read_file", path="notes/a.txt")["content"] == "buy milk\ncall Dana\n"
    listing = ok(session, "list_files")
    assert listing["entries"] == [{"name": "notes", "type": "folder"}]  # tool state stays hidden
    assert ok(session, "list_files", path="notes")["entries"] == [{"name": "a.txt", "type": "file", "bytes": 19}]
    matches = ok(session, "search_text", query="DANA")["matches"]
    assert matches == [{"path": "notes/a.txt", "line": 2, "text": "call Dana"}]
    assert ok(session, "search_text", query="DANA", case_sensitive=True)["matches"] == []
    assert ok(session, "delete_file", path="notes/a.txt") == {"deleted": "notes/a.txt"}
    assert session.state()["files"] == {}


def test_files_errors(session: ToolSession) -> None:
    assert "no file 'missing.txt'" in fails(session, "read_file", path="missing.txt")
    assert "leaves the scratch folder" in fails(session, "read_file", path="../../etc/passwd")
    assert "leaves the scratch folder" in fails(session, "write_file", path="a/../../x", content="x")
    assert "reserved for tool state" in fails(session, "read_file", path=".state/kv.json")
    assert "no file" in fails(session, "delete_file", path="nothing.txt")
    ok(session, "write_file", path="d/x.txt", content="x")
    assert "not empty" in fails(session, "delete_file", path="d")
    assert "is a folder" in fails(session, "read_file", path="d")
    assert "query is empty" in fails(session, "search_text", query="")
    assert "no folder" in fails(session, "list_files", path="nope")
    assert "content" in fails(session, "write_file", "schema", path="x.txt")


def test_files_scenario_seeds_the_scratch_folder(toolbox: ToolBox) -> None:
    with toolbox.session(scenario="files-notes") as session:
        assert "milk" in ok(session, "read_file", path="shopping.txt")["content"]
        assert ok(session, "search_text", query="dana")["matches"][0]["path"] == "notes/meeting.txt"


# math ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [("2 + 3", 5), ("2 * (3 + 4) ** 2", 98), ("sqrt(16) + sin(pi / 2)", 5), ("7 // 2 + 7 % 2", 4), ("2^10", 1024)],
)
def test_calculate(session: ToolSession, expression: str, expected: float) -> None:
    assert ok(session, "calculate", expression=expression)["result"] == pytest.approx(expected)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("1 / 0", "division by zero"),
        ("__import__('os')", "unknown function '__import__'"),
        ("__import__('os').system('id')", "unsupported syntax (Call)"),
        ("[x for x in range(10**9)]", "unsupported syntax (ListComp)"),
        ("().__class__", "unsupported syntax (Attribute)"),
        ("x + 1", "unknown name 'x'"),
        ("2 ** 100000", "exponent 100000 is too large"),
        ("10.0 ** 308 * 10", "too large"),
        ("(-8) ** 0.5", "complex"),
        ("1 +", "not valid arithmetic"),
        ("factorial(1000)", "factorial takes"),
        ("", "expression is empty"),
    ],
)
def test_calculate_errors(session: ToolSession, expression: str, message: str) -> None:
    assert message in fails(session, "calculate", expression=expression)


def test_convert_units(session: ToolSession) -> None:
    assert ok(session, "convert_units", value=5, from_unit="km", to_unit="mi")["result"] == pytest.approx(3.10685596)
    assert ok(session, "convert_units", value=100, from_unit="C", to_unit="F")["result"] == pytest.approx(212)
    assert ok(session, "convert_units", value=1, from_unit="GiB", to_unit="MB")["result"] == pytest.approx(1073.741824)
    assert ok(session, "convert_units", value=2, from_unit="pounds", to_unit="kg")["result"] == pytest.approx(
        0.90718474
    )


def test_convert_units_errors(session: ToolSession) -> None:
    assert "unknown unit 'parsec'" in fails(session, "convert_units", value=1, from_unit="parsec", to_unit="m")
    assert "(length) to 'kg' (mass)" in fails(session, "convert_units", value=1, from_unit="m", to_unit="kg")
    assert "below absolute zero" in fails(session, "convert_units", value=-500, from_unit="C", to_unit="K")
    assert "only temperatures" in fails(session, "convert_units", value=1, from_unit="C", to_unit="m")
    assert "'number'" in fails(session, "convert_units", "schema", value="ten", from_unit="m", to_unit="km")


# kv ------------------------------------------------------------------------------------------


def test_kv_set_get_list_delete(session: ToolSession) -> None:
    assert ok(session, "set", key="color", value="green")["replaced"] is None
    assert ok(session, "set", key="color", value="blue")["replaced"] == "green"
    ok(session, "set", key="count", value=3)
    ok(session, "set", key="tags", value=["a", "b"])
    assert ok(session, "get", key="tags")["value"] == ["a", "b"]
    assert ok(session, "list_keys") == {"keys": ["color", "count", "tags"], "count": 3}
    assert ok(session, "list_keys", prefix="co")["keys"] == ["color", "count"]
    assert ok(session, "delete", key="count")["value"] == 3
    assert session.state()["kv"] == {"color": "blue", "tags": ["a", "b"]}


def test_kv_errors(session: ToolSession) -> None:
    assert "no key 'missing'" in fails(session, "get", key="missing")
    assert "no key 'missing' to delete" in fails(session, "delete", key="missing")
    assert "key is empty" in fails(session, "set", key="  ", value=1)
    assert "at most 128" in fails(session, "set", key="k" * 200, value=1)
    assert "'key' is a required property" in fails(session, "get", "schema")


def test_kv_scenario(toolbox: ToolBox) -> None:
    with toolbox.session(scenario="kv-preferences") as session:
        assert ok(session, "get", key="units")["value"] == "metric"


# scene ---------------------------------------------------------------------------------------


def test_scene_build_and_edit(session: ToolSession) -> None:
    assert ok(session, "create_object", type="cube")["name"] == "Cube"
    assert ok(session, "create_object", type="cube", location=[1, 2, 3])["name"] == "Cube.001"
    ok(session, "create_object", type="camera", name="Cam")
    ok(session, "create_object", type="light", name="Sun", location=[0, 0, 10])
    assert ok(session, "move_object", name="Cube", location=[1, 0, 0])["location"] == [1, 0, 0]
    assert ok(session, "move_object", name="Cube", location=[1, 1, 0], relative=True)["location"] == [2, 1, 0]
    assert ok(session, "scale_object", name="Cube", scale=[2, 2, 2])["scale"] == [2, 2, 2]
    assert ok(session, "rotate_object", name="Cube", rotation=[0, 0, 45])["rotation"] == [0, 0, 45]
    info = ok(session, "add_modifier", object="Cube", type="subdivision", params={"levels": 2})
    assert info["faces"] == 6 * 16 and info["modifiers"][0]["params"] == {"levels": 2, "render_levels": 2}
    ok(session, "add_modifier", object="Cube", type="mirror", params={"axis": "y"})
    assert ok(session, "get_object_info", name="Cube")["faces"] == 2 * 96
    applied = ok(session, "apply_modifier", object="Cube", modifier="subdivision")
    assert [m["name"] for m in applied["modifiers"]] == ["mirror"] and applied["faces"] == 192
    material = ok(session, "set_material", object="Cube", color="Red", metallic=1, roughness=0.2)["material"]
    assert material == {"color": "#ff0000", "metallic": 1.0, "roughness": 0.2}
    names = [o["name"] for o in ok(session, "list_objects")["objects"]]
    assert names == ["Cam", "Cube", "Cube.001", "Sun"]
    assert ok(session, "delete_object", name="Cube.001")["remaining"] == ["Cam", "Cube", "Sun"]
    stats = ok(session, "render_stats")
    assert stats["objects"] == 3 and stats["lights"] == 1 and stats["cameras"] == 1 and stats["faces"] == 192
    assert stats["triangles"] == 384 and stats["renderable"] is True
    assert set(session.state()["scene"]["objects"]) == {"Cam", "Cube", "Sun"}


def test_scene_errors(session: ToolSession) -> None:
    ok(session, "create_object", type="cube")
    ok(session, "create_object", type="camera")
    assert "no object named 'Ghost'; objects: Camera, Cube" in fails(
        session, "move_object", name="Ghost", location=[0, 0, 0]
    )
    assert "already exists" in fails(session, "create_object", type="sphere", name="Cube")
    assert "is out of range" in fails(session, "create_object", type="sphere", location=[0, 0, 1e9])
    assert "must be above 0" in fails(session, "scale_object", name="Cube", scale=[1, 0, 1])
    assert "between -360 and 360" in fails(session, "rotate_object", name="Cube", rotation=[0, 720, 0])
    bevel = fails(session, "add_modifier", object="Cube", type="bevel", params={"width": 50})
    assert "width=50 is out of range" in bevel
    unknown = fails(session, "add_modifier", object="Cube", type="array", params={"copies": 3})
    assert "no parameter copies; its parameters are: count, offset" in unknown
    assert "whole number" in fails(session, "add_modifier", object="Cube", type="array", params={"count": 2.5})
    assert "'x', 'y' or 'z'" in fails(session, "add_modifier", object="Cube", type="mirror", params={"axis": "w"})
    assert "modifiers apply to meshes" in fails(session, "add_modifier", object="Camera", type="bevel")
    assert "has no modifier 'bevel'" in fails(session, "apply_modifier", object="Cube", modifier="bevel")
    assert "not a hex color" in fails(session, "set_material", object="Cube", color="#12")
    assert "roughness=2 is out of range" in fails(session, "set_material", object="Cube", color="red", roughness=2)
    assert "materials apply to meshes" in fails(session, "set_material", object="Camera", color="red")
    assert "is not one of" in fails(session, "create_object", "schema", type="teapot")
    assert "no object named" in fails(session, "delete_object", name="Ghost")
    assert "no object named" in fails(session, "get_object_info", name="Ghost")


def test_scene_apply_order_and_face_limit(session: ToolSession) -> None:
    ok(session, "create_object", type="sphere")
    ok(session, "add_modifier", object="Sphere", type="bevel", params={"segments": 2})
    ok(session, "add_modifier", object="Sphere", type="bevel")
    assert "apply 'bevel' first" in fails(session, "apply_modifier", object="Sphere", modifier="bevel.001")
    message = fails(session, "add_modifier", object="Sphere", type="subdivision", params={"levels": 6})
    assert "more than 5,000,000 faces" in message
    assert len(ok(session, "get_object_info", name="Sphere")["modifiers"]) == 2  # the rejected one was not kept


def test_scene_default_scenario(toolbox: ToolBox) -> None:
    with toolbox.session(scenario="scene-default") as session:
        assert ok(session, "render_stats")["objects"] == 3


# mobile --------------------------------------------------------------------------------------


def test_mobile_actions_change_phone_state(session: ToolSession) -> None:
    assert ok(session, "set_alarm", time="7:05", label="Run", days=["mon", "fri"])["alarm"]["time"] == "07:05"
    event = ok(session, "create_calendar_event", title="Dentist", date="2025-07-01", start_time="14:30")["event"]
    assert event["duration_minutes"] == 60
    sent = ok(session, "send_message", recipient="alice", body="On my way")["sent"]
    assert sent["to"] == "Alice Johnson" and sent["phone"] == "+1-555-0101"
    assert ok(session, "send_message", recipient="+1 555 0199", body="hi")["sent"]["to"] is None
    assert ok(session, "toggle_setting", setting="bluetooth") == {"setting": "bluetooth", "enabled": True, "was": False}
    assert ok(session, "toggle_setting", setting="wifi", enabled=False)["enabled"] is False
    assert ok(session, "open_app", name="Camera") == {"opened": "camera"}
    found = ok(session, "search_contacts", query="bob")
    assert [c["name"] for c in found["contacts"]] == ["Bob Smith", "Bob Martin"]
    assert ok(session, "search_contacts", query="555-0104")["contacts"][0]["name"] == "Dana Lee"
    phone = session.state()["phone"]
    assert phone["settings"] == {"wifi": False, "bluetooth": True, "flashlight": False, "dnd": False}
    assert phone["open_app"] == "camera" and len(phone["messages"]) == 2 and len(phone["alarms"]) == 1


def test_mobile_errors(session: ToolSession) -> None:
    assert "not a 24-hour time" in fails(session, "set_alarm", time="25:00")
    assert "not a date" in fails(session, "create_calendar_event", title="x", date="tomorrow", start_time="10:00")
    assert "between 1 and 1440" in fails(
        session, "create_calendar_event", title="x", date="2025-01-01", start_time="10:00", duration_minutes=0
    )
    assert "matches several contacts (Bob Smith, Bob Martin)" in fails(
        session, "send_message", recipient="Bob", body="hi"
    )
    assert "no contact named 'Zed'" in fails(session, "send_message", recipient="Zed", body="hi")
    assert "body is empty" in fails(session, "send_message", recipient="Mom", body=" ")
    assert "no app named 'tiktok'" in fails(session, "open_app", name="tiktok")
    assert "is not one of" in fails(session, "toggle_setting", "schema", setting="nfc")
    assert "query is empty" in fails(session, "search_contacts", query="")
    assert "phone" not in session.state()  # no failed call changed the phone


def test_mobile_scenario(toolbox: ToolBox) -> None:
    with toolbox.session(scenario="mobile-evening") as session:
        assert ok(session, "toggle_setting", setting="bluetooth")["enabled"] is False
        assert session.state()["phone"]["alarms"][0]["label"] == "Gym"
