"""Arithmetic with a safe expression evaluator (a whitelist over Python's ast, never eval) and unit conversion."""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any

MAX_EXPRESSION = 500
MAX_EXPONENT = 1000
MAX_MAGNITUDE = 1e300

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sqrt": math.sqrt,
    "abs": abs,
    "round": round,
    "min": min,
    "max": max,
    "floor": math.floor,
    "ceil": math.ceil,
    "exp": math.exp,
    "log": math.log,
    "log10": math.log10,
    "log2": math.log2,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "asin": math.asin,
    "acos": math.acos,
    "atan": math.atan,
    "radians": math.radians,
    "degrees": math.degrees,
    "factorial": math.factorial,
}
_CONSTANTS = {"pi": math.pi, "e": math.e, "tau": math.tau}


def _check(value: float | int) -> float | int:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("the result is not a finite number")
    if abs(value) > MAX_MAGNITUDE:
        raise ValueError("the result is too large (more than 1e300)")
    return value


def _evaluate(node: ast.AST) -> float | int:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        raise ValueError(f"unknown name {node.id!r}; known constants: {', '.join(_CONSTANTS)}")
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _check(_UNARY[type(node.op)](_evaluate(node.operand)))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > MAX_EXPONENT:
            raise ValueError(f"exponent {right} is too large (at most {MAX_EXPONENT})")
        if isinstance(node.op, ast.Div | ast.FloorDiv | ast.Mod) and right == 0:
            raise ValueError("division by zero")
        result = _BINARY[type(node.op)](left, right)
        if isinstance(result, complex):
            raise ValueError("the result is a complex number (a negative number to a fractional power)")
        return _check(result)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        function = _FUNCTIONS.get(node.func.id)
        if function is None:
            raise ValueError(f"unknown function {node.func.id!r}; known functions: {', '.join(_FUNCTIONS)}")
        arguments = [_evaluate(argument) for argument in node.args]
        if node.func.id == "factorial" and (len(arguments) != 1 or not 0 <= arguments[0] <= 170):
            raise ValueError("factorial takes one whole number from 0 to 170")
        try:
            return _check(function(*arguments))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{node.func.id}: {exc}") from None
    # The node's class name, not ast.unparse: that imports a module the sandboxed Python does not bundle.
    raise ValueError(
        f"unsupported syntax ({type(node).__name__}); use numbers, + - * / // % **, brackets and functions"
    )


def calculate(expression: str) -> dict:
    """Evaluate an arithmetic expression, e.g. "2 * (3 + 4) ** 2" or "sqrt(16) + sin(pi / 2)".

    Args:
        expression: The expression: numbers, + - * / // % **, brackets, constants (pi, e, tau) and functions such as sqrt, log, sin, round, min, max.
    """
    text = expression.strip()
    if not text:
        raise ValueError("expression is empty")
    if len(text) > MAX_EXPRESSION:
        raise ValueError(f"expression is {len(text)} characters long; at most {MAX_EXPRESSION}")
    try:
        tree = ast.parse(text.replace("^", "**"), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"expression {expression!r} is not valid arithmetic: {exc.msg}") from None
    result = _evaluate(tree)
    if isinstance(result, float) and result.is_integer() and abs(result) < 2**53:
        result = int(result)
    return {"expression": expression, "result": result}


# Factors to the base unit of each dimension (metre, kilogram, litre, second, metre/second, byte).
_UNITS: dict[str, tuple[str, float]] = {
    "mm": ("length", 0.001),
    "cm": ("length", 0.01),
    "m": ("length", 1.0),
    "km": ("length", 1000.0),
    "in": ("length", 0.0254),
    "ft": ("length", 0.3048),
    "yd": ("length", 0.9144),
    "mi": ("length", 1609.344),
    "mg": ("mass", 1e-6),
    "g": ("mass", 0.001),
    "kg": ("mass", 1.0),
    "t": ("mass", 1000.0),
    "oz": ("mass", 0.028349523125),
    "lb": ("mass", 0.45359237),
    "ml": ("volume", 0.001),
    "l": ("volume", 1.0),
    "gal": ("volume", 3.785411784),
    "cup": ("volume", 0.2365882365),
    "s": ("time", 1.0),
    "min": ("time", 60.0),
    "h": ("time", 3600.0),
    "day": ("time", 86400.0),
    "week": ("time", 604800.0),
    "m/s": ("speed", 1.0),
    "km/h": ("speed", 1000.0 / 3600.0),
    "mph": ("speed", 1609.344 / 3600.0),
    "knot": ("speed", 1852.0 / 3600.0),
    "b": ("data", 1.0),
    "kb": ("data", 1000.0),
    "mb": ("data", 1e6),
    "gb": ("data", 1e9),
    "kib": ("data", 1024.0),
    "mib": ("data", 1024.0**2),
    "gib": ("data", 1024.0**3),
}
_TEMPERATURES = {"c", "f", "k"}
_ALIASES = {
    "meter": "m", "meters": "m", "metre": "m", "metres": "m", "kilometers": "km", "kilometer": "km",
    "centimeters": "cm", "millimeters": "mm", "inch": "in", "inches": "in", "foot": "ft", "feet": "ft",
    "yard": "yd", "yards": "yd", "mile": "mi", "miles": "mi", "gram": "g", "grams": "g", "kilogram": "kg",
    "kilograms": "kg", "pound": "lb", "pounds": "lb", "lbs": "lb", "ounce": "oz", "ounces": "oz",
    "liter": "l", "liters": "l", "litre": "l", "litres": "l", "milliliters": "ml", "gallon": "gal",
    "gallons": "gal", "cups": "cup", "second": "s", "seconds": "s", "sec": "s", "minute": "min",
    "minutes": "min", "hour": "h", "hours": "h", "hr": "h", "days": "day", "weeks": "week",
    "kph": "km/h", "kmh": "km/h", "knots": "knot", "celsius": "c", "°c": "c", "fahrenheit": "f",
    "°f": "f", "kelvin": "k", "byte": "b", "bytes": "b", "tonne": "t", "tonnes": "t",
}  # fmt: skip


def _unit(name: str) -> str:
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in _UNITS and key not in _TEMPERATURES:
        known = ", ".join([*_UNITS, "C", "F", "K"])
        raise ValueError(f"unknown unit {name!r}; known units: {known}")
    return key


def _to_kelvin(value: float, unit: str) -> float:
    return {"c": value + 273.15, "f": (value - 32) * 5 / 9 + 273.15, "k": value}[unit]


def _from_kelvin(value: float, unit: str) -> float:
    return {"c": value - 273.15, "f": (value - 273.15) * 9 / 5 + 32, "k": value}[unit]


def convert_units(value: float, from_unit: str, to_unit: str) -> dict:
    """Convert a quantity between units of length, mass, volume, time, speed, data size or temperature.

    Args:
        value: The amount to convert.
        from_unit: The unit of value, e.g. "km", "mi", "kg", "lb", "l", "cup", "h", "km/h", "F", "GiB".
        to_unit: The unit to convert to; it must measure the same thing, e.g. "mi", "km", "lb", "kg", "ml", "min", "mph", "C", "MB".
    """
    source, target = _unit(from_unit), _unit(to_unit)
    if source in _TEMPERATURES or target in _TEMPERATURES:
        if not (source in _TEMPERATURES and target in _TEMPERATURES):
            raise ValueError(f"cannot convert {from_unit!r} to {to_unit!r}: only temperatures convert to temperatures")
        kelvin = _to_kelvin(value, source)
        if kelvin < 0:
            raise ValueError(f"{value} {from_unit} is below absolute zero")
        result = _from_kelvin(kelvin, target)
    else:
        (source_dimension, source_factor), (target_dimension, target_factor) = _UNITS[source], _UNITS[target]
        if source_dimension != target_dimension:
            raise ValueError(f"cannot convert {from_unit!r} ({source_dimension}) to {to_unit!r} ({target_dimension})")
        result = value * source_factor / target_factor
    if not math.isfinite(result):
        raise ValueError("the result is not a finite number")
    return {"value": value, "from_unit": from_unit, "to_unit": to_unit, "result": round(result, 10)}
