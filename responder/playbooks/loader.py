"""Load a folder of playbooks, reporting every problem as FILE:LINE: path: message."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from marshmallow import Schema, ValidationError

from responder.playbooks.model import (
    Agency,
    Condition,
    Offer,
    Playbook,
    PlaybookSet,
    Region,
    Rule,
    Step,
)
from responder.playbooks.schema import LocalPlaybookSchema, RegionalSchema
from responder.playbooks.source import YamlDocument, YamlSyntaxError, read_yaml

REGIONAL_FILE = "regional.yaml"


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.path}: {self.message}"


class PlaybookError(Exception):
    """Raised when playbooks are invalid; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        first = str(problems[0]) if problems else "invalid playbooks"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(first + more)


@dataclass
class _Loaded:
    file: str
    doc: YamlDocument
    data: dict


def load_playbooks(directory: str | Path) -> PlaybookSet:
    """Load and validate every playbook in ``directory``; raise PlaybookError on any problem."""
    directory = Path(directory)
    problems: list[Problem] = []
    if not directory.is_dir():
        raise PlaybookError([Problem(str(directory), 0, "(folder)", "no such folder")])
    files = sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml"))
    regional_path = directory / REGIONAL_FILE
    if not regional_path.exists():
        problems.append(
            Problem(
                display_path(regional_path),
                0,
                "(file)",
                "regional.yaml is missing: it defines shared agencies",
            )
        )
    regional = None
    locals_: list[_Loaded] = []
    for path in files:
        schema = RegionalSchema() if path.name == REGIONAL_FILE else LocalPlaybookSchema()
        loaded = _validate_file(path, schema, problems)
        if loaded is None:
            continue
        if path.name == REGIONAL_FILE:
            regional = loaded
        else:
            locals_.append(loaded)
    if regional is not None:
        problems.extend(_cross_check(regional, locals_))
    if problems:
        raise PlaybookError(problems)
    region = _build_region(regional)
    playbooks = {item.data["local_authority"]: _build_playbook(item) for item in locals_}
    return PlaybookSet(region=region, playbooks=playbooks, directory=str(directory))


def display_path(path: Path) -> str:
    """A path as the person running a command would type it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _validate_file(path: Path, schema: Schema, problems: list[Problem]) -> _Loaded | None:
    name = display_path(path)
    try:
        doc = read_yaml(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        problems.append(Problem(name, 1, "(file)", "not UTF-8 text"))
        return None
    except YamlSyntaxError as error:
        problems.append(Problem(name, error.line, "(yaml)", error.message))
        return None
    for key_path, line in doc.duplicates:
        problems.append(Problem(name, line, ".".join(key_path), "duplicate key: already defined above"))
    if not isinstance(doc.data, dict):
        problems.append(Problem(name, doc.line_for(()), "(document)", "a playbook must be a mapping of keys"))
        return None
    try:
        data = schema.load(doc.data)
    except ValidationError as error:
        for path_parts, message in _flatten(error.messages):
            problems.append(
                Problem(name, doc.line_for(path_parts), ".".join(path_parts) or "(document)", message)
            )
        return None
    if "local_authority" in data and data["local_authority"] != path.stem:
        problems.append(
            Problem(
                name,
                doc.line_for(("local_authority",)),
                "local_authority",
                f"{data['local_authority']!r} does not match the file name {path.name!r}",
            )
        )
        return None
    if doc.duplicates:
        return None
    return _Loaded(name, doc, data)


def _flatten(messages, prefix: tuple[str, ...] = ()) -> Iterable[tuple[tuple[str, ...], str]]:
    """Turn marshmallow's nested error dict into (path, message) pairs."""
    if isinstance(messages, dict):
        for key, value in messages.items():
            key = str(key)
            if key == "_schema" or key == "value":
                yield from _flatten(value, prefix)
            elif key == "key":  # ...and errors about the key itself under "key"
                for message in value if isinstance(value, list) else [value]:
                    yield prefix, f"id {message}"
            else:
                yield from _flatten(value, (*prefix, key))
    elif isinstance(messages, list):
        for message in messages:
            if isinstance(message, (dict, list)):
                yield from _flatten(message, prefix)
            else:
                text = str(message)
                if text == "Unknown field.":
                    text = "unknown key (check the spelling against the playbook format in the README)"
                elif text == "Missing data for required field.":
                    text = "required"
                yield prefix, text
    else:
        yield prefix, str(messages)


def _cross_check(regional: _Loaded, locals_: list[_Loaded]) -> list[Problem]:
    """References between files, and ids that must be unique across the region."""
    problems: list[Problem] = []
    agency_owner: dict[str, str] = {}
    offer_owner: dict[str, str] = {}
    code_owner: dict[str, str] = {}

    def claim(owner: dict[str, str], key: str, item: _Loaded, path: tuple[str, ...], what: str) -> None:
        if key in owner and owner[key] != item.file:
            problems.append(
                Problem(
                    item.file,
                    item.doc.line_for(path),
                    ".".join(path),
                    f"{what} {key!r} is already defined in {owner[key]}",
                )
            )
        owner.setdefault(key, item.file)

    for item in [regional, *locals_]:
        for key in item.data["agencies"]:
            claim(agency_owner, key, item, ("agencies", key), "agency")
        for key in item.data["support_offers"]:
            claim(offer_owner, key, item, ("support_offers", key), "support offer")
        if "code" in item.data:
            claim(code_owner, item.data["code"], item, ("code",), "reference code")

    regional_agencies = set(regional.data["agencies"])
    regional_offers = set(regional.data["support_offers"])
    for item in [regional, *locals_]:
        problems.extend(_check_references(item, regional_agencies, regional_offers))
    return problems


def _check_references(item: _Loaded, regional_agencies: set[str], regional_offers: set[str]) -> list[Problem]:
    """Every agency, offer and provider a file names must exist here or in regional.yaml."""
    problems: list[Problem] = []
    agencies = regional_agencies | set(item.data["agencies"])
    offers = regional_offers | set(item.data["support_offers"])

    def check(ref: str, known: set[str], path: tuple[str, ...], what: str) -> None:
        if ref not in known:
            line = item.doc.line_for(path)
            problems.append(Problem(item.file, line, ".".join(path), f"unknown {what} {ref!r}"))

    for key, offer in item.data["support_offers"].items():
        check(offer["provider"], agencies, ("support_offers", key, "provider"), "agency")
    for index, rule in enumerate(item.data.get("activation", [])):
        for pos, ref in enumerate(rule["agencies"]):
            check(ref, agencies, ("activation", str(index), "agencies", str(pos)), "agency")
        for pos, ref in enumerate(rule["offers"]):
            check(ref, offers, ("activation", str(index), "offers", str(pos)), "support offer")
    alerts = [step for step in item.data.get("steps", []) if step["do"] == "alert"]
    if "steps" in item.data and len(alerts) != 1:
        message = f"needs exactly one alert step, found {len(alerts)}"
        problems.append(Problem(item.file, item.doc.line_for(("steps",)), "steps", message))
    return problems


def _agencies(raw: dict, source: str) -> dict[str, Agency]:
    # A playbook frozen before sectors and bases were required may lack them: "" says so.
    return {
        key: Agency(
            key=key,
            source=source,
            name=value["name"],
            lead=value["lead"],
            deputy=value.get("deputy"),
            sector=value.get("sector", ""),
            sharing_basis=value.get("sharing_basis", ""),
        )
        for key, value in raw.items()
    }


def _offers(raw: dict, source: str) -> dict[str, Offer]:
    return {
        key: Offer(key=key, name=v["name"], provider=v["provider"], source=source) for key, v in raw.items()
    }


def _build_region(loaded: _Loaded) -> Region:
    return build_region(loaded.data, file=loaded.file, lines=loaded.doc.lines)


def build_region(data: dict, *, file: str = "", lines: dict | None = None) -> Region:
    """The regional file as a value, from data its schema has loaded."""
    return Region(
        file=file,
        lines=lines or {},
        name=data["name"],
        on_call=data["on_call"],
        agencies=_agencies(data["agencies"], "regional"),
        offers=_offers(data["support_offers"], "regional"),
        raw=_plain(data),
    )


def _build_playbook(loaded: _Loaded) -> Playbook:
    return build_playbook(loaded.data, file=loaded.file, lines=loaded.doc.lines)


def build_playbook(data: dict, *, file: str = "", lines: dict | None = None) -> Playbook:
    """A local authority's playbook as a value, from data its schema has loaded."""
    rules = tuple(
        Rule(
            when=Condition(
                types=frozenset(rule["when"]["type"]) if "type" in rule["when"] else None,
                school_link=rule["when"].get("school_link"),
                age_min=rule["when"].get("youngest_age", {}).get("min"),
                age_max=rule["when"].get("youngest_age", {}).get("max"),
                tensions=frozenset(rule["when"]["tension"]) if "tension" in rule["when"] else None,
            ),
            agencies=tuple(rule["agencies"]),
            offers=tuple(rule["offers"]),
        )
        for rule in data["activation"]
    )
    return Playbook(
        file=file,
        lines=lines or {},
        local_authority=data["local_authority"],
        name=data["name"],
        code=data["code"],
        duty_manager=data["duty_manager"],
        agencies=_agencies(data["agencies"], data["local_authority"]),
        offers=_offers(data["support_offers"], data["local_authority"]),
        rules=rules,
        steps=tuple(Step(**{**step, "call": tuple(step.get("call", ()))}) for step in data["steps"]),
        raw=_plain(data),
    )


def _plain(data):
    """Loaded data as JSON-ready values (durations back to their text)."""
    if isinstance(data, dict):
        return {key: _plain(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_plain(value) for value in data]
    if isinstance(data, (str, int, float, bool)) or data is None:
        return data
    return str(data)


def snapshot(playbooks: PlaybookSet, local_authority: str) -> tuple[dict, str]:
    """A frozen copy of one local authority's playbook plus the regional file, and its hash."""
    content = {
        "playbook": playbooks.for_local_authority(local_authority).raw,
        "regional": playbooks.region.raw,
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return content, hashlib.sha256(canonical.encode("utf-8")).hexdigest()
