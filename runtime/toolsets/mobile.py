"""Phone actions, as in the Mobile Actions task: alarms, calendar, messages, settings, apps, contacts.

The phone's state (a seeded contact list, settings, alarms, events, sent messages, the open app)
is kept in the session, so a sequence of calls can be checked by its final state.
"""

from __future__ import annotations

import json
import os
import re
from datetime import date, time
from pathlib import Path
from typing import Any, Literal

Setting = Literal["wifi", "bluetooth", "flashlight", "dnd"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
APPS = [
    "browser", "calculator", "calendar", "camera", "clock", "contacts", "email", "maps",
    "messages", "music", "notes", "phone", "photos", "settings", "weather",
]  # fmt: skip
CONTACTS = [
    {"name": "Alice Johnson", "phone": "+1-555-0101", "email": "alice.johnson@example.com"},
    {"name": "Bob Smith", "phone": "+1-555-0102", "email": "bob.smith@example.com"},
    {"name": "Carol Diaz", "phone": "+1-555-0103", "email": "carol.diaz@example.com"},
    {"name": "Dana Lee", "phone": "+1-555-0104", "email": "dana.lee@example.com"},
    {"name": "Erik Novak", "phone": "+1-555-0105", "email": "erik.novak@example.com"},
    {"name": "Fatima Khan", "phone": "+1-555-0106", "email": "fatima.khan@example.com"},
    {"name": "Bob Martin", "phone": "+1-555-0107", "email": "bob.martin@example.com"},
    {"name": "Mom", "phone": "+1-555-0100", "email": ""},
]
MAX_ITEMS = 200


def _initial() -> dict[str, Any]:
    return {
        "contacts": [dict(c) for c in CONTACTS],
        "settings": {"wifi": True, "bluetooth": False, "flashlight": False, "dnd": False},
        "alarms": [],
        "events": [],
        "messages": [],
        "open_app": None,
    }


def _path() -> Path:
    return Path(os.environ.get("EDGEFABRIC_SCRATCH", "/scratch")) / ".state" / "phone.json"


def _load() -> dict[str, Any]:
    path = _path()
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else _initial()


def _save(phone: dict[str, Any]) -> None:
    path = _path()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(phone, sort_keys=True), encoding="utf-8")
    partial.replace(path)


def _time(text: str, what: str) -> str:
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", text)
    if not match or not (0 <= int(match.group(1)) <= 23 and 0 <= int(match.group(2)) <= 59):
        raise ValueError(f"{what} {text!r} is not a 24-hour time like '07:30'")
    return time(int(match.group(1)), int(match.group(2))).strftime("%H:%M")


def _limit(items: list[Any], what: str) -> None:
    if len(items) >= MAX_ITEMS:
        raise ValueError(f"the phone already holds {MAX_ITEMS} {what}")


def set_alarm(time: str, label: str = "", days: list[Weekday] | None = None) -> dict:
    """Set an alarm.

    Args:
        time: The time in 24-hour form, e.g. "07:30".
        label: A label shown when it rings, e.g. "Gym", "Take the bins out" or "Pills".
        days: Weekdays it repeats on (mon ... sun); empty for a one-off alarm.
    """
    phone = _load()
    _limit(phone["alarms"], "alarms")
    alarm = {
        "id": len(phone["alarms"]) + 1,
        "time": _time(time, "time"),
        "label": label,
        "days": sorted(set(days or [])),
    }
    phone["alarms"].append(alarm)
    _save(phone)
    return {"alarm": alarm}


def create_calendar_event(
    title: str, date: str, start_time: str, duration_minutes: int = 60, location: str = ""
) -> dict:
    """Add an event to the calendar.

    Args:
        title: What the event is, e.g. "Dentist appointment", "Team standup" or "Lunch with Sam".
        date: The day, as YYYY-MM-DD.
        start_time: When it starts, 24-hour "HH:MM".
        duration_minutes: How long it lasts, 1 to 1440 minutes.
        location: Where it takes place, e.g. "Room 4B" or "City library".
    """
    if not title.strip():
        raise ValueError("title is empty; say what the event is")
    try:
        day = _date_type.fromisoformat(date.strip())
    except ValueError:
        raise ValueError(f"date {date!r} is not a date like '2025-06-30'") from None
    if not 1 <= duration_minutes <= 1440:
        raise ValueError(f"duration_minutes={duration_minutes} is out of range; it must be between 1 and 1440")
    phone = _load()
    _limit(phone["events"], "events")
    event = {
        "id": len(phone["events"]) + 1,
        "title": title.strip(),
        "date": day.isoformat(),
        "start_time": _time(start_time, "start_time"),
        "duration_minutes": duration_minutes,
        "location": location,
    }
    phone["events"].append(event)
    _save(phone)
    return {"event": event}


_date_type = date


def _recipient(phone: dict[str, Any], recipient: str) -> dict[str, Any]:
    wanted = recipient.strip().lower()
    if re.fullmatch(r"\+?[\d\-\s()]{5,20}", recipient.strip()):
        digits = re.sub(r"\D", "", recipient)
        for contact in phone["contacts"]:
            if re.sub(r"\D", "", contact["phone"]) == digits:
                return contact
        return {"name": None, "phone": recipient.strip()}
    exact = [c for c in phone["contacts"] if c["name"].lower() == wanted]
    if exact:
        return exact[0]
    partial = [c for c in phone["contacts"] if wanted and wanted in c["name"].lower()]
    if len(partial) == 1:
        return partial[0]
    if len(partial) > 1:
        names = ", ".join(c["name"] for c in partial)
        raise ValueError(f"{recipient!r} matches several contacts ({names}); use the full name")
    raise LookupError(f"no contact named {recipient!r}; use search_contacts, or give a phone number")


def send_message(recipient: str, body: str) -> dict:
    """Send a text message to a contact (by name) or to a phone number.

    Args:
        recipient: A contact's name, e.g. "Alice Johnson", or a phone number.
        body: The message text, e.g. "Running ten minutes late" or "Call me when you land".
    """
    if not body.strip():
        raise ValueError("body is empty; write the message")
    if len(body) > 2000:
        raise ValueError(f"the message is {len(body)} characters long; at most 2000")
    phone = _load()
    _limit(phone["messages"], "messages")
    contact = _recipient(phone, recipient)
    message = {"id": len(phone["messages"]) + 1, "to": contact["name"], "phone": contact["phone"], "body": body}
    phone["messages"].append(message)
    _save(phone)
    return {"sent": message}


def toggle_setting(setting: Setting, enabled: bool | None = None) -> dict:
    """Turn a setting on or off: wifi, bluetooth, flashlight or dnd (do not disturb).

    Args:
        setting: Which setting.
        enabled: true to turn it on, false to turn it off; leave out to flip it.
    """
    phone = _load()
    previous = phone["settings"][setting]
    phone["settings"][setting] = (not previous) if enabled is None else enabled
    _save(phone)
    return {"setting": setting, "enabled": phone["settings"][setting], "was": previous}


def open_app(name: str) -> dict:
    """Open an app on the phone.

    Args:
        name: The app, e.g. "camera", "maps", "music".
    """
    app = name.strip().lower()
    if app not in APPS:
        raise LookupError(f"no app named {name!r}; installed apps: {', '.join(APPS)}")
    phone = _load()
    phone["open_app"] = app
    _save(phone)
    return {"opened": app}


def search_contacts(query: str) -> dict:
    """Find contacts whose name, phone number or email contains the query.

    Args:
        query: Part of a name, number or email, e.g. "bob".
    """
    wanted = query.strip().lower()
    if not wanted:
        raise ValueError("query is empty; give part of a name, number or email")
    phone = _load()
    found = [c for c in phone["contacts"] if any(wanted in c[k].lower() for k in ("name", "phone", "email"))]
    return {"query": query, "contacts": found, "count": len(found)}


SCENARIOS = [
    {
        "name": "mobile-evening",
        "description": "Evening: wifi and bluetooth on, one alarm set",
        "state": {
            "phone": {
                **_initial(),
                "settings": {"wifi": True, "bluetooth": True, "flashlight": False, "dnd": False},
                "alarms": [{"id": 1, "time": "06:45", "label": "Gym", "days": ["mon", "wed", "fri"]}],
            }
        },
    }
]
