"""A Blender-like 3D scene editor on a scene graph kept in the session (a JSON file).

Objects have a type, a location, a rotation (degrees), a scale, a material and a modifier stack.
Mesh statistics follow the modifiers (subdivision, bevel, mirror, array), so render_stats changes
as the scene does.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Literal

ObjectType = Literal["cube", "sphere", "cylinder", "plane", "camera", "light"]
ModifierType = Literal["subdivision", "bevel", "mirror", "array"]

MAX_OBJECTS = 200
MAX_COORDINATE = 10_000.0
MAX_SCALE = 1_000.0
MAX_FACES = 5_000_000
# (vertices, edges, faces) of each primitive, as Blender makes them by default.
MESHES = {"cube": (8, 12, 6), "sphere": (482, 992, 512), "cylinder": (64, 96, 34), "plane": (4, 4, 1)}
# Each modifier's parameters: name -> (type, minimum, maximum, default); "axis" takes x, y or z.
MODIFIER_PARAMS: dict[str, dict[str, tuple[str, Any, Any, Any]]] = {
    "subdivision": {"levels": ("int", 0, 6, 1), "render_levels": ("int", 0, 6, 2)},
    "bevel": {"width": ("float", 0.0001, 10.0, 0.1), "segments": ("int", 1, 100, 1)},
    "mirror": {"axis": ("axis", None, None, "x")},
    "array": {"count": ("int", 1, 1000, 2), "offset": ("float", -1000.0, 1000.0, 1.0)},
}
NAMED_COLORS = {
    "red": "#ff0000", "green": "#00ff00", "blue": "#0000ff", "white": "#ffffff", "black": "#000000",
    "yellow": "#ffff00", "orange": "#ffa500", "purple": "#800080", "gray": "#808080", "grey": "#808080",
}  # fmt: skip


def _path() -> Path:
    return Path(os.environ.get("EDGEFABRIC_SCRATCH", "/scratch")) / ".state" / "scene.json"


def _load() -> dict[str, Any]:
    path = _path()
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"objects": {}}


def _save(scene: dict[str, Any]) -> None:
    path = _path()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(scene, sort_keys=True), encoding="utf-8")
    partial.replace(path)


def _object(scene: dict[str, Any], name: str) -> dict[str, Any]:
    if name not in scene["objects"]:
        known = ", ".join(sorted(scene["objects"])) or "the scene is empty"
        raise LookupError(f"no object named {name!r}; objects: {known}")
    return scene["objects"][name]


def _vector(values: Any, what: str, low: float, high: float) -> list[float]:
    vector = [float(v) for v in values]
    if len(vector) != 3:
        raise ValueError(f"{what} needs 3 numbers (x, y, z), got {len(vector)}")
    for axis, value in zip("xyz", vector, strict=True):
        if not low <= value <= high:
            raise ValueError(f"{what} {axis}={value:g} is out of range; it must be between {low:g} and {high:g}")
    return vector


def _mesh_stats(item: dict[str, Any], include: str = "all") -> dict[str, int]:
    """Vertices, edges and faces after the modifier stack (Catmull-Clark counts for subdivision)."""
    if item["type"] not in MESHES:
        return {"vertices": 0, "edges": 0, "faces": 0}
    vertices, edges, faces = item["mesh"]
    for modifier in item["modifiers"]:
        params = modifier["params"]
        if modifier["type"] == "subdivision":
            for _ in range(params["levels"]):
                vertices, edges, faces = vertices + edges + faces, 2 * edges + 4 * faces, 4 * faces
        elif modifier["type"] == "bevel":
            segments = params["segments"]
            vertices, edges, faces = (
                vertices + 2 * edges * segments,
                edges * (2 + 3 * segments),
                faces + edges * segments,
            )
        elif modifier["type"] == "mirror":
            vertices, edges, faces = 2 * vertices, 2 * edges, 2 * faces
        elif modifier["type"] == "array":
            count = params["count"]
            vertices, edges, faces = count * vertices, count * edges, count * faces
    return {"vertices": vertices, "edges": edges, "faces": faces}


def _info(name: str, item: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "type": item["type"],
        "location": item["location"],
        "rotation": item["rotation"],
        "scale": item["scale"],
        "material": item["material"],
        "modifiers": item["modifiers"],
        **_mesh_stats(item),
    }


def create_object(
    type: ObjectType, name: str | None = None, location: tuple[float, float, float] = (0.0, 0.0, 0.0)
) -> dict:
    """Add an object to the scene.

    Args:
        type: What to add: cube, sphere, cylinder, plane, camera or light.
        name: A unique name; by default the type's name ("Cube", then "Cube.001", ...).
        location: Position as [x, y, z].
    """
    scene = _load()
    if len(scene["objects"]) >= MAX_OBJECTS:
        raise ValueError(f"the scene already has {MAX_OBJECTS} objects; delete some first")
    if name is None:
        base, number = type.capitalize(), 0
        name = base
        while name in scene["objects"]:
            number += 1
            name = f"{base}.{number:03d}"
    elif not re.fullmatch(r"[\w .\-]{1,63}", name):
        raise ValueError(f"object name {name!r} must be 1-63 letters, digits, spaces, '.', '_' or '-'")
    elif name in scene["objects"]:
        raise ValueError(f"an object named {name!r} already exists; choose another name")
    item = {
        "type": type,
        "location": _vector(location, "location", -MAX_COORDINATE, MAX_COORDINATE),
        "rotation": [0.0, 0.0, 0.0],
        "scale": [1.0, 1.0, 1.0],
        "material": None,
        "modifiers": [],
        "mesh": list(MESHES.get(type, (0, 0, 0))),
    }
    scene["objects"][name] = item
    _save(scene)
    return _info(name, item)


def delete_object(name: str) -> dict:
    """Remove an object from the scene.

    Args:
        name: The object's name.
    """
    scene = _load()
    _object(scene, name)
    del scene["objects"][name]
    _save(scene)
    return {"deleted": name, "remaining": sorted(scene["objects"])}


def move_object(name: str, location: tuple[float, float, float], relative: bool = False) -> dict:
    """Move an object to a location, or by an offset.

    Args:
        name: The object's name.
        location: The new position [x, y, z], or the offset when relative is true.
        relative: Add location to the current position instead of replacing it.
    """
    scene = _load()
    item = _object(scene, name)
    offset = [float(v) for v in location]
    target = [a + b for a, b in zip(item["location"], offset, strict=True)] if relative else offset
    item["location"] = _vector(target, "location", -MAX_COORDINATE, MAX_COORDINATE)
    _save(scene)
    return _info(name, item)


def scale_object(name: str, scale: tuple[float, float, float]) -> dict:
    """Set an object's scale along x, y and z (1 is the original size).

    Args:
        name: The object's name.
        scale: Scale factors [x, y, z], each above 0 and at most 1000.
    """
    scene = _load()
    item = _object(scene, name)
    vector = _vector(scale, "scale", -MAX_SCALE, MAX_SCALE)
    if any(value <= 0 for value in vector):
        raise ValueError(f"scale {vector} must be above 0 on every axis (use mirror to flip)")
    item["scale"] = vector
    _save(scene)
    return _info(name, item)


def rotate_object(name: str, rotation: tuple[float, float, float]) -> dict:
    """Set an object's rotation in degrees around x, y and z.

    Args:
        name: The object's name.
        rotation: Angles in degrees [x, y, z], each between -360 and 360.
    """
    scene = _load()
    item = _object(scene, name)
    item["rotation"] = _vector(rotation, "rotation", -360.0, 360.0)
    _save(scene)
    return _info(name, item)


def _modifier_params(type: str, params: dict[str, Any]) -> dict[str, Any]:
    allowed = MODIFIER_PARAMS[type]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(
            f"{type} modifier has no parameter {', '.join(unknown)}; its parameters are: {', '.join(allowed)}"
        )
    checked = {}
    for key, (kind, low, high, default) in allowed.items():
        value = params.get(key, default)
        if kind == "axis":
            if value not in ("x", "y", "z"):
                raise ValueError(f"{type} modifier: {key} must be 'x', 'y' or 'z', not {value!r}")
        else:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{type} modifier: {key} must be a number, not {value!r}")
            if kind == "int" and value != int(value):
                raise ValueError(f"{type} modifier: {key} must be a whole number, not {value!r}")
            if not low <= value <= high:
                raise ValueError(f"{type} modifier: {key}={value} is out of range; it must be between {low} and {high}")
            value = int(value) if kind == "int" else float(value)
        checked[key] = value
    return checked


def add_modifier(object: str, type: ModifierType, params: dict[str, Any] | None = None) -> dict:
    """Add a modifier to the end of an object's modifier stack.

    Args:
        object: The object's name (a cube, sphere, cylinder or plane).
        type: subdivision (levels 0-6, render_levels 0-6), bevel (width 0.0001-10, segments 1-100), mirror (axis x|y|z) or array (count 1-1000, offset -1000-1000).
        params: The modifier's parameters; missing ones take their defaults.
    """
    scene = _load()
    item = _object(scene, object)
    if item["type"] not in MESHES:
        raise ValueError(f"{object!r} is a {item['type']}; modifiers apply to meshes (cube, sphere, cylinder, plane)")
    modifier: dict[str, Any] = {"name": type, "type": type, "params": _modifier_params(type, params or {})}
    taken = {m["name"] for m in item["modifiers"]}
    number = 0
    while modifier["name"] in taken:
        number += 1
        modifier["name"] = f"{type}.{number:03d}"
    item["modifiers"].append(modifier)
    if _mesh_stats(item)["faces"] > MAX_FACES:
        raise ValueError(f"this modifier would give {object!r} more than {MAX_FACES:,} faces; use lower values")
    _save(scene)
    return _info(object, item)


def apply_modifier(object: str, modifier: str) -> dict:
    """Apply a modifier: bake its effect into the object's mesh and remove it from the stack.

    Args:
        object: The object's name.
        modifier: The modifier's name as shown by get_object_info, e.g. "subdivision" or "bevel.001".
    """
    scene = _load()
    item = _object(scene, object)
    names = [m["name"] for m in item["modifiers"]]
    if modifier not in names:
        raise LookupError(f"{object!r} has no modifier {modifier!r}; its modifiers: {', '.join(names) or 'none'}")
    index = names.index(modifier)
    if index != 0:
        raise ValueError(f"{modifier!r} is not first in the stack ({', '.join(names)}); apply {names[0]!r} first")
    baked = _mesh_stats({**item, "modifiers": item["modifiers"][:1]})
    item["mesh"] = [baked["vertices"], baked["edges"], baked["faces"]]
    item["modifiers"] = item["modifiers"][1:]
    _save(scene)
    return _info(object, item)


def set_material(object: str, color: str, metallic: float = 0.0, roughness: float = 0.5) -> dict:
    """Give an object a material.

    Args:
        object: The object's name.
        color: A hex color like "#ff8800" or a basic color name (red, green, blue, white, black, ...).
        metallic: 0 (dielectric) to 1 (metal).
        roughness: 0 (mirror-smooth) to 1 (fully rough).
    """
    scene = _load()
    item = _object(scene, object)
    if item["type"] in ("camera", "light"):
        raise ValueError(f"{object!r} is a {item['type']}; materials apply to meshes")
    hex_color = NAMED_COLORS.get(color.strip().lower(), color.strip().lower())
    if not re.fullmatch(r"#[0-9a-f]{6}", hex_color):
        raise ValueError(f"color {color!r} is not a hex color like '#ff8800' or one of: {', '.join(NAMED_COLORS)}")
    for label, value in (("metallic", metallic), ("roughness", roughness)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{label}={value} is out of range; it must be between 0 and 1")
    item["material"] = {"color": hex_color, "metallic": float(metallic), "roughness": float(roughness)}
    _save(scene)
    return _info(object, item)


def list_objects() -> dict:
    """List the objects in the scene with their types and locations."""
    scene = _load()
    objects = [{"name": n, "type": o["type"], "location": o["location"]} for n, o in sorted(scene["objects"].items())]
    return {"objects": objects, "count": len(objects)}


def get_object_info(name: str) -> dict:
    """Everything about one object: transform, material, modifiers and mesh counts.

    Args:
        name: The object's name.
    """
    scene = _load()
    return _info(name, _object(scene, name))


def render_stats() -> dict:
    """Scene totals as a renderer would report them: objects, vertices, faces, triangles, lights, cameras."""
    scene = _load()
    totals = {
        "objects": 0,
        "meshes": 0,
        "vertices": 0,
        "edges": 0,
        "faces": 0,
        "triangles": 0,
        "lights": 0,
        "cameras": 0,
    }
    for item in scene["objects"].values():
        totals["objects"] += 1
        if item["type"] == "light":
            totals["lights"] += 1
        elif item["type"] == "camera":
            totals["cameras"] += 1
        else:
            stats = _mesh_stats(item)
            totals["meshes"] += 1
            totals["vertices"] += stats["vertices"]
            totals["edges"] += stats["edges"]
            totals["faces"] += stats["faces"]
            totals["triangles"] += 2 * stats["faces"]  # quads split in two
    totals["renderable"] = totals["cameras"] > 0
    return totals


_DEFAULT = {
    "type": "cube", "location": [0.0, 0.0, 0.0], "rotation": [0.0, 0.0, 0.0], "scale": [1.0, 1.0, 1.0],
    "material": None, "modifiers": [], "mesh": list(MESHES["cube"]),
}  # fmt: skip
SCENARIOS = [
    {
        "name": "scene-default",
        "description": "Blender's start-up scene: a cube, a camera and a light",
        "state": {
            "scene": {
                "objects": {
                    "Cube": _DEFAULT,
                    "Camera": {**_DEFAULT, "type": "camera", "location": [7.4, -6.9, 5.0], "mesh": [0, 0, 0]},
                    "Light": {**_DEFAULT, "type": "light", "location": [4.1, 1.0, 5.9], "mesh": [0, 0, 0]},
                }
            }
        },
    }
]
