"""docs/contract.md is the whole wire contract: checked against the OpenAPI document and the code.

The OpenAPI document is built from the app itself (no database needed), and the rules from the
source: an endpoint, an event type, a field, a bound or a rule added to the code without its line
in the docs fails here. The repository stands alone: its documents refer to nothing outside it.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import msgspec
import pytest

from api import contract
from api.app import create_app
from api.problems import CONFLICTS, PROBLEM_BASE, Problem
from api.schemas import AppendedOut, BatchOut
from application.settings import Settings
from domain import errors
from domain.status import STATUS_AFTER, TRANSITIONS, EventType, Status

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "docs" / "contract.md"
PACKAGES = ("api", "application", "domain", "projections")
SCHEMA_MARKER = re.compile(r"\(`(\w+)`\)$")
SLUG = re.compile(r"^[a-z]+(?:_[a-z]+)*$")


# Reading the markdown: sections by heading, tables as rows of cells.


def sections(text: str) -> dict[str, str]:
    """Each heading's text (without the #s) and what follows it up to the next heading."""
    found: dict[str, str] = {}
    heading = ""
    lines: list[str] = []
    in_code = False
    for line in text.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if not in_code and re.match(r"#{1,6} ", line):
            found[heading] = "\n".join(lines)
            heading, lines = line.lstrip("#").strip(), []
        else:
            lines.append(line)
    found[heading] = "\n".join(lines)
    return found


def tables(body: str) -> list[list[dict[str, str]]]:
    """Every table in a section, each as rows keyed by its header's cells."""
    found: list[list[dict[str, str]]] = []
    block: list[str] = []
    for line in [*body.splitlines(), ""]:
        if line.startswith("|"):
            block.append(line)
            continue
        if len(block) >= 2:
            header = _cells(block[0])
            found.append([dict(zip(header, _cells(row), strict=True)) for row in block[2:]])
        block = []
    return found


def _cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def names(cell: str) -> list[str]:
    """The names written as code in a cell."""
    return re.findall(r"`([^`]+)`", cell)


def first_name(cell: str) -> str:
    found = names(cell)
    assert found, f"no `name` in the cell {cell!r}"
    return found[0]


def fields_table(body: str) -> dict[str, dict[str, str]]:
    """A section's (first) table of fields, by field name."""
    found = tables(body)
    assert found, "the section has no table"
    return {first_name(row["field"]): row for row in found[0]}


@pytest.fixture(scope="module")
def doc() -> dict[str, str]:
    return sections(CONTRACT.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    app = create_app(Settings(database_url="postgresql://unused/x"))
    schema: dict[str, Any] = app.openapi_schema.to_schema()
    return schema


def components(openapi: dict[str, Any]) -> dict[str, Any]:
    """The named schemas of an OpenAPI document, or of msgspec's JSON Schema (`$defs`)."""
    found: dict[str, Any] = (
        openapi["components"]["schemas"] if "$defs" not in openapi else openapi["$defs"]
    )
    return found


def resolve(openapi: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return components(openapi)[schema["$ref"].rsplit("/", 1)[1]]  # type: ignore[no-any-return]
    return schema


def event_schemas(openapi: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The single endpoint's event schemas by their `type`, from the body's union."""
    operation = openapi["paths"]["/v1/dossiers/{code}/events"]["post"]
    union = operation["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    found = {}
    for member in union:
        schema = resolve(openapi, member)
        found[schema["properties"]["type"]["const"]] = schema
    return found


# Bounds: every number, value and pattern of a field's schema is written in its row.


def _walk(openapi: dict[str, Any], schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The schema and every schema inside it (oneOf and anyOf members, items, $refs)."""
    schema = resolve(openapi, schema)
    found = [schema]
    for member in [*schema.get("oneOf", []), *schema.get("anyOf", [])]:
        found += _walk(openapi, member)
    if isinstance(schema.get("items"), dict):
        found += _walk(openapi, schema["items"])
    return found


def check_bounds(openapi: dict[str, Any], name: str, schema: dict[str, Any], row: str) -> None:
    digits = re.sub(r"(?<=\d),(?=\d{3})", "", row)  # 2,000 → 2000
    if name.rsplit(".", 1)[-1] == "type":
        return  # an event's `type` chooses its schema: the one value of each is its section
    for part in _walk(openapi, schema):
        for key in ("minLength", "maxLength", "minimum", "maximum", "minItems", "maxItems"):
            if key in part:
                assert re.search(rf"(?<![\d.]){int(part[key])}(?![\d.])", digits), (
                    f"{name}: {key} {part[key]} is not in its row: {row}"
                )
        for value in part.get("enum", []):
            assert f"`{value}`" in row, f"{name}: the value {value!r} is not in its row: {row}"
        if "const" in part:
            assert f"`{part['const']}`" in row, f"{name}: {part['const']!r} is not in: {row}"
        if "pattern" in part:
            if part["pattern"] == contract.NO_NUL:
                assert "NUL" in row, f"{name}: its row does not say 'no NUL': {row}"
            elif choices := re.fullmatch(r"\^\(([\w|]+)\)\$", part["pattern"]):
                for value in choices.group(1).split("|"):
                    assert f"`{value}`" in row, f"{name}: the value {value!r} is not in: {row}"
            else:
                assert part["pattern"] in row, f"{name}: its pattern is not in its row: {row}"


def check_fields(
    openapi: dict[str, Any], where: str, schema: dict[str, Any], table: dict[str, dict[str, str]]
) -> None:
    """The table lists exactly the schema's fields, with their required-ness and bounds."""
    properties = schema.get("properties", {})
    documented = {name for name in table if "." not in name and "[" not in name}
    assert documented == set(properties), f"{where}: documented {documented}, schema {properties}"
    required = set(schema.get("required", []))
    for name, row in table.items():
        if name not in properties:
            continue
        if "required" in row and name != "data":
            expected = "yes" if name in required else "no"
            assert row["required"] == expected, f"{where}.{name}: required is {name in required}"
        if "bounds" in row:
            check_bounds(openapi, f"{where}.{name}", properties[name], row["bounds"])


# The event types and their data.


def test_every_event_type_has_a_section_listing_each_field_of_its_data(
    doc: dict[str, str], openapi: dict[str, Any]
) -> None:
    events = event_schemas(openapi)
    assert set(events) == {t.value for t in EventType}
    documented = {
        match.group(1)
        for heading in doc
        if (match := re.fullmatch(r"`(\w+)` \(`(\w+Data)`\)", heading))
    }
    assert documented == set(events), "a section per event type, none for a type that is not"
    for type_name, event in events.items():
        data_name = event["properties"]["data"]["$ref"].rsplit("/", 1)[1]
        body = doc[f"`{type_name}` (`{data_name}`)"]
        data = components(openapi)[data_name]
        if not data.get("properties"):
            assert not tables(body) and "no fields" in body, f"{type_name}: say it has no fields"
            continue
        check_fields(openapi, f"{type_name}.data", data, fields_table(body))


def test_the_bounds_are_the_structs_own(doc: dict[str, str]) -> None:
    """msgspec's own schema of the contract, which keeps bounds the OpenAPI document loses
    (a list's items, a minimum of 0): each is in the docs too."""
    _, defs = msgspec.json.schema_components([contract.EventIn, contract.BatchIn])
    schemas = {"$defs": defs}
    for event_type in contract.EVENT_TYPES:
        name = event_type.__name__
        tag = event_type.__struct_config__.tag
        data_name = defs[name]["properties"]["data"]["$ref"].rsplit("/", 1)[1]
        if defs[data_name]["properties"]:
            body = doc[f"`{tag}` (`{data_name}`)"]
            check_fields(schemas, f"{tag}.data", defs[data_name], fields_table(body))
        check_fields(schemas, tag, defs[name], fields_table(doc["The envelope"]))


def test_the_envelope_lists_every_field_of_every_event_type(
    doc: dict[str, str], openapi: dict[str, Any]
) -> None:
    table = fields_table(doc["The envelope"])
    for type_name, event in event_schemas(openapi).items():
        check_fields(openapi, type_name, event, table)
    actor = components(openapi)["Actor"]
    actor_rows = {n.split(".", 1)[1]: row for n, row in table.items() if n.startswith("actor.")}
    check_fields(openapi, "actor", actor, actor_rows)
    occurred_at = table["occurred_at"]["bounds"]
    assert f"{contract.FIRST_YEAR} to {contract.LAST_YEAR}" in occurred_at
    assert "offset" in occurred_at


def test_the_batch_lists_its_items_fields(doc: dict[str, str], openapi: dict[str, Any]) -> None:
    schemas = components(openapi)
    table = fields_table(doc["Batches (`BatchIn`)"])
    check_fields(openapi, "BatchIn", schemas["BatchIn"], table)
    events = event_schemas(openapi)
    for member in schemas["BatchIn"]["properties"]["events"]["items"]["oneOf"]:
        item = resolve(openapi, member)
        event = events[item["properties"]["type"]["const"]]
        assert set(item["properties"]) == {*event["properties"], "dossier_code"}
        check_bounds(
            openapi,
            "events[].dossier_code",
            item["properties"]["dossier_code"],
            table["events[].dossier_code"]["bounds"],
        )
    outcomes = {first_name(row["outcome"]) for row in tables(doc["Batches (`BatchIn`)"])[1]}
    results = schemas["BatchOut"]["properties"]["results"]["items"]["oneOf"]
    assert outcomes == {resolve(openapi, r)["properties"]["outcome"]["const"] for r in results}


def test_every_answer_section_lists_its_schemas_fields(
    doc: dict[str, str], openapi: dict[str, Any]
) -> None:
    schemas = components(openapi)
    checked = set()
    for heading, body in doc.items():
        marker = SCHEMA_MARKER.search(heading)
        if marker is None or marker.group(1).endswith("Data"):
            continue
        name = marker.group(1)
        assert name in schemas, f"{heading}: no schema {name} in the OpenAPI document"
        check_fields(openapi, name, schemas[name], fields_table(body))
        checked.add(name)
    assert {"Appended", "Problem", "DossierOut", "PublicDossierOut", "HistoryOut"} <= checked
    answers = schemas["Appended"]
    assert schemas["AlreadyAppended"]["properties"].keys() == answers["properties"].keys()
    outcome = fields_table(doc["Appended and already appended (`Appended`)"])["outcome"]
    for name in ("Appended", "AlreadyAppended"):
        assert f"`{schemas[name]['properties']['outcome']['const']}`" in outcome["meaning"]


def test_the_examples_are_valid_on_the_wire() -> None:
    """Every JSON example decodes as what it shows: an event, an answer, a batch, a problem."""
    blocks = re.findall(r"```json\n(.*?)```", CONTRACT.read_text(encoding="utf-8"), re.S)
    kinds = []
    for block in blocks:
        value = json.loads(block)
        raw = block.encode()
        if "results" in value:
            msgspec.json.decode(raw, type=BatchOut, strict=True)
            kinds.append("batch")
        elif "outcome" in value:
            msgspec.json.decode(raw, type=AppendedOut, strict=True)
            kinds.append(value["outcome"])
        elif "rule" in value:
            problem = msgspec.json.decode(raw, type=Problem, strict=True)
            assert problem.type == PROBLEM_BASE + str(problem.rule)
            kinds.append("problem")
        else:
            contract.decode_event(raw)
            kinds.append("event")
    assert set(kinds) == {"event", "appended", "already_appended", "batch", "problem"}


def test_statuses_and_transitions_are_the_domains() -> None:
    body = sections(CONTRACT.read_text(encoding="utf-8"))["Statuses and transitions"]
    status_table, transition_table = tables(body)
    assert {(int(row["code"]), row["name_vi"], row["name_en"]) for row in status_table} == {
        (int(s), s.name_vi, s.name_en) for s in Status
    }
    documented = {}
    for row in transition_table:
        allowed = row["allowed when the status is"].replace("no dossier yet", "0")
        after = row["status after"]
        documented[first_name(row["event type"])] = (
            {Status(int(n)) if n != "0" else None for n in re.findall(r"\d+", allowed)},
            None if after == "unchanged" else Status(int(after)),
        )
    assert documented == {
        event.value: ({s for s, allowed in TRANSITIONS.items() if event in allowed}, after)
        for event, after in STATUS_AFTER.items()
    }


# The endpoints.


def _endpoint_rows(doc: dict[str, str]) -> dict[tuple[str, str], dict[str, str]]:
    return {
        (first_name(row["method"]), first_name(row["path"])): row
        for row in tables(doc["Endpoints"])[0]
    }


def test_every_operation_is_documented_with_its_parameters_and_role(
    doc: dict[str, str], openapi: dict[str, Any]
) -> None:
    rows = _endpoint_rows(doc)
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            row = rows.get((method.upper(), path))
            assert row is not None, f"{method.upper()} {path} is not in docs/contract.md"
            documented = set(names(row["parameters"]))
            for parameter in operation.get("parameters", []):
                name = parameter["name"]
                assert name in documented, f"{method.upper()} {path}: parameter {name}"
                check_bounds(openapi, name, parameter["schema"], row["parameters"])
            for status in operation["responses"]:
                if status.startswith("2"):
                    assert status in row["answer"], f"{method.upper()} {path}: its {status} answer"
            public = row["role"] == "public"
            assert public == (not operation.get("security")), f"{method.upper()} {path}: role"


def test_every_route_documented_is_one_the_ledger_serves(doc: dict[str, str]) -> None:
    app = create_app(Settings(database_url="postgresql://unused/x"))
    served = {
        (method, re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path))
        for route in app.routes
        for method in getattr(route, "methods", ())
        if method not in ("OPTIONS", "HEAD")
    }
    documented = set(_endpoint_rows(doc))
    assert documented <= served
    assert {r for r in served if not r[1].startswith("/schema")} <= documented


# The rules: every slug the code can answer with is in the table, with its status.


def rules_in_code() -> dict[str, set[int | None]]:
    """Every rule slug in the source, with the status it is answered with where it says so."""
    found: dict[str, set[int | None]] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            _RuleFinder(found).visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def _domain_status(name: str) -> int | None:
    """The status a DomainError subclass is answered with (api.problems.domain_problem)."""
    error = getattr(errors, name, None)
    if not (isinstance(error, type) and issubclass(error, errors.DomainError)):
        return None
    return 409 if issubclass(error, CONFLICTS) else 422


class _RuleFinder(ast.NodeVisitor):
    def __init__(self, found: dict[str, set[int | None]]) -> None:
        self.found = found
        self.classes: list[str] = []

    def add(self, node: ast.AST | None, status: int | None) -> None:
        text = node.value if isinstance(node, ast.Constant) else None
        if isinstance(text, str) and SLUG.fullmatch(text):
            self.found.setdefault(text, set()).add(status)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.classes.append(node.name)
        self.generic_visit(node)
        self.classes.pop()

    def visit_Call(self, node: ast.Call) -> None:
        called = _name(node.func)
        status = next((_status(k.value) for k in node.keywords if k.arg == "status"), None)
        if called == "ProblemError" and len(node.args) >= 2:
            self.add(node.args[1], _status(node.args[0]))
        for keyword in node.keywords:
            if keyword.arg == "rule":
                if called == "__init__" and self.classes:  # super().__init__(…, rule=…)
                    status = _domain_status(self.classes[-1]) or status
                self.add(keyword.value, status or _domain_status(called or ""))
        on = node.func.value if isinstance(node.func, ast.Attribute) else None
        if called == "get" and _status_dict(on) and len(node.args) == 2:  # {404: …}.get(s, "…")
            self.add(node.args[1], None)
        self.generic_visit(node)

    def visit_Tuple(self, node: ast.Tuple) -> None:
        for first, second in zip(node.elts, node.elts[1:], strict=False):
            if (status := _status(first)) is not None:
                self.add(second, status)
        self.generic_visit(node)

    def visit_Dict(self, node: ast.Dict) -> None:
        if _status_dict(node):
            for key, value in zip(node.keys, node.values, strict=True):
                self.add(value, _status(key))
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        arguments = [*node.args.posonlyargs, *node.args.args]
        for argument, default in zip(arguments[::-1], node.args.defaults[::-1], strict=False):
            if argument.arg == "rule":
                self.add(default, None)
        for argument, kw_default in zip(node.args.kwonlyargs, node.args.kw_defaults, strict=True):
            if argument.arg == "rule":
                self.add(kw_default, _domain_status(self.classes[-1]) if self.classes else None)
        self.generic_visit(node)


def _name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _status(node: ast.AST | None) -> int | None:
    """An HTTP error status written as a number or as litestar's HTTP_4xx_… constant."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value if 400 <= node.value <= 599 else None
    name = _name(node) if node is not None else None
    if name and (match := re.fullmatch(r"HTTP_([45]\d\d)_\w+", name)):
        return int(match.group(1))
    return None


def _status_dict(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Dict) and bool(node.keys) and all(_status(k) for k in node.keys)


def documented_rules() -> dict[str, str]:
    body = sections(CONTRACT.read_text(encoding="utf-8"))["Rules"]
    rows = tables(body)[0]
    documented = {first_name(row["rule"]): row["status"] for row in rows}
    assert len(documented) == len(rows), "each rule has one row"
    return documented


def test_every_rule_in_the_code_is_in_the_table_with_its_status() -> None:
    in_code = rules_in_code()
    documented = documented_rules()
    # The scan itself finds the rules of every kind of source: a sanity check of the finder.
    assert {
        "missing_field",  # api/contract.py: ProblemError(422, …)
        "missing_parameter",  # api/problems.py: a returned tuple
        "too_many_requests",  # api/problems.py: Litestar's statuses
        "http_error",  # api/problems.py: their default
        "transition_not_allowed",  # domain/errors.py: super().__init__(…, rule=…)
        "new_due_at_not_later",  # domain/dossier.py: InvalidEventData(…, rule=…)
        "no_checkpoint_yet",  # api/audit.py: a table of statuses and rules
        "database_unavailable",  # api/availability.py: a table of statuses and rules
    } <= set(in_code)
    missing = sorted(set(in_code) - set(documented))
    assert not missing, f"rules raised in the code but not in docs/contract.md: {missing}"
    stale = sorted(set(documented) - set(in_code))
    assert not stale, f"rules in docs/contract.md that the code never answers: {stale}"
    for rule, statuses in in_code.items():
        for status in statuses - {None}:
            assert documented[rule] in (str(status), "any"), f"{rule}: answered {status}"
    assert documented["transition_not_allowed"] == "409"
    assert documented["unknown_procedure"] == "422"


def test_the_openapi_problem_descriptions_name_documented_rules(openapi: dict[str, Any]) -> None:
    documented = documented_rules()
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                listed = re.findall(r"\(([^()]*)\)", response.get("description", ""))
                for rule in names(" ".join(listed)):
                    if SLUG.fullmatch(rule):
                        assert rule in documented, f"{method} {path} {status}: {rule}"
                        assert documented[rule] == status, f"{method} {path}: {rule} is {status}"


# The repository stands alone (finding 13).

OUTSIDE = re.compile(
    r"\.\./shared|/work/|\b(?:DESIGN|NOTES|CONVENTIONS)\.md\b",
)


def repository_files() -> list[Path]:
    """The files git tracks (a checkout of the repository), else every file but the tools'."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        skipped = {".git", ".venv", ".ledger", "__pycache__", ".mypy_cache", ".ruff_cache"}
        return [
            p
            for p in ROOT.rglob("*")
            if p.is_file() and not skipped & set(p.relative_to(ROOT).parts)
        ]
    return [ROOT / name for name in listed.decode().split("\0") if name]


def test_nothing_in_the_repository_refers_to_files_outside_it() -> None:
    this = Path(__file__).resolve()
    offending = []
    for path in repository_files():
        if path.resolve() == this or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # not text
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line):
                offending.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offending, "\n".join(offending)


def _anchor(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.lower())
    return text.replace(" ", "-")


def test_the_readme_and_docs_link_only_to_files_in_the_repository() -> None:
    documents = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for document in documents:
        text = document.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+://", target):
                continue
            file_part, _, anchor = target.partition("#")
            linked = (document.parent / file_part).resolve() if file_part else document
            assert linked.is_relative_to(ROOT), f"{document.name}: {target} is outside"
            assert linked.exists(), f"{document.name}: {target} does not exist"
            if anchor:
                headings = sections(linked.read_text(encoding="utf-8"))
                assert anchor in {_anchor(h) for h in headings}, f"{document.name}: #{anchor}"
        named = r"`((?:docs|api|application|domain|projections|tests)/[\w/]+\.\w+)`"
        for path in re.findall(named, text):
            assert (ROOT / path).exists(), f"{document.name} names {path}, which does not exist"


def test_proofs_document_the_409_of_an_event_not_yet_in_the_checkpoint(
    openapi: dict[str, Any],
) -> None:
    """An inclusion proof or an export asked for just after an event was stored answers 409
    `not_yet_logged` / `not_in_checkpoint` (schemathesis found it undocumented)."""
    for path in ("/v1/audit/proofs/inclusion", "/v1/dossiers/{code}/export"):
        answers = openapi["paths"][path]["get"]["responses"]
        assert "application/problem+json" in answers["409"]["content"], path
