"""The transparency log over HTTP: checkpoints, the public key, proofs, a dossier's export.

Checkpoints (with their witnesses' cosignatures) and the public key are public: a checkpoint
holds a size and a hash, nothing about anyone, and anyone may watch the log grow (they must
still compare the key with the one the province publishes elsewhere: docs/audit.md). Proofs and
exports are for inspectors.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, TypeVar

import msgspec
from litestar import Controller, Response, get
from litestar.datastructures import CacheControlHeader
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, PathParameter, QueryParameter

from api.auth import require
from api.problems import PROBLEM_JSON, Problem, ProblemError
from application.keys import Role
from application.runtime import Runtime
from application.transparency.bundle import (
    Bundle,
    ConsistencyProofDocument,
    encode_base64,
    encode_bundle,
)
from application.transparency.log import AuditLog
from application.transparency.proofs import (
    AuditLogError,
    CheckpointNotFound,
    DossierNotFound,
    InvalidTreeSizes,
    NoCheckpointYet,
    NotInCheckpoint,
    NotYetLogged,
    TreeSizeBeyondLog,
    VersionNotFound,
    export_bundle,
    prove_consistency,
    prove_inclusion,
    signed_checkpoint,
)
from application.transparency.witnessing import with_cosignatures
from domain.code import DossierCode
from domain.errors import InvalidDossierCode
from projections.audit_log import AuditLogView
from projections.names import AUDIT_LOG

TEXT = "text/plain"
"""Litestar adds `; charset=utf-8` to text/* types: the header is then exactly the spec's."""
MAX_PAGE = 1000
MAX_SIZE = 2**63 - 1
RETRY_SECONDS = "10"
T = TypeVar("T")
# An event newer than the log or than the checkpoint asked for (seconds behind, usually).
NOT_LOGGED_YET = ResponseSpec(
    data_container=Problem,
    media_type=PROBLEM_JSON,
    description="The event is not in the log, or not in that checkpoint, yet (`not_yet_logged`,"
    " `not_in_checkpoint`): retry after `Retry-After` seconds",
    generate_examples=False,
)

_PROBLEMS: dict[type[AuditLogError], tuple[int, str]] = {
    NoCheckpointYet: (404, "no_checkpoint_yet"),
    TreeSizeBeyondLog: (404, "tree_size_beyond_log"),
    CheckpointNotFound: (404, "checkpoint_not_found"),
    DossierNotFound: (404, "dossier_not_found"),
    VersionNotFound: (404, "version_not_found"),
    NotYetLogged: (409, "not_yet_logged"),
    NotInCheckpoint: (409, "not_in_checkpoint"),
    InvalidTreeSizes: (422, "invalid_value"),
}
_FIELDS: dict[type[AuditLogError], str] = {
    DossierNotFound: "code",
    VersionNotFound: "version",
    NotYetLogged: "version",
    NotInCheckpoint: "version",
}


class InclusionProofOut(msgspec.Struct):
    """An event's leaf in a signed tree: hashes in standard base64, leaf side first."""

    leaf_index: int
    tree_size: int
    leaf_hash: str
    hashes: list[str]


def audit_log_of(runtime: Runtime) -> AuditLog:
    view = runtime.views.get(AUDIT_LOG)
    if not isinstance(view, AuditLogView):
        raise ProblemError(503, "audit_log_unavailable", "the audit log is not open here")
    return view.log


async def answer(
    runtime: Runtime,
    work: Callable[[AuditLog], T],
    size_fields: Callable[[int | None], str | None] = lambda _size: "tree_size",
) -> T:
    """Run `work` on the audit log in a worker thread; its errors become problems."""
    log = audit_log_of(runtime)
    try:
        return await asyncio.to_thread(work, log)
    except AuditLogError as error:
        raise problem(error, size_fields) from None


def problem(error: AuditLogError, size_fields: Callable[[int | None], str | None]) -> ProblemError:
    status, rule = _PROBLEMS.get(type(error), (404, "not_found"))
    field = _FIELDS.get(type(error)) or size_fields(error.tree_size)
    headers = {"Retry-After": RETRY_SECONDS} if status == 409 else None
    return ProblemError(status, rule, str(error), field=field, headers=headers)


def parse_code(code: str) -> DossierCode:
    try:
        return DossierCode.parse(code)
    except InvalidDossierCode as error:
        raise ProblemError(422, error.rule, str(error), field="code") from None


def latest_note(log: AuditLog) -> str:
    """The latest checkpoint with its cosignatures."""
    with log.reading() as store:
        checkpoint = signed_checkpoint(store)
    return with_cosignatures(log, checkpoint)


def _note_at(tree_size: int) -> Callable[[AuditLog], str]:
    def note(log: AuditLog) -> str:
        with log.reading() as store:
            checkpoint = signed_checkpoint(store, tree_size)
        return with_cosignatures(log, checkpoint)

    return note


class CheckpointOut(msgspec.Struct):
    """A signed checkpoint: its size, root (standard base64), when it was signed, and its note
    with the cosignatures of the witnesses."""

    tree_size: int
    root_hash: str
    signed_at: datetime | None
    note: str


class CheckpointPage(msgspec.Struct):
    """Checkpoints in increasing size; `next_after`: the `after` of the next page (null: none)."""

    checkpoints: list[CheckpointOut]
    next_after: int | None


def _checkpoint_page(after: int, limit: int) -> Callable[[AuditLog], CheckpointPage]:
    def page(log: AuditLog) -> CheckpointPage:
        with log.reading() as store:
            rows = store.checkpoints_page(after, limit + 1)
            lines = {row.tree_size: store.cosignature_lines(row.tree_size) for row in rows}
        shown = rows[:limit]
        return CheckpointPage(
            checkpoints=[
                CheckpointOut(
                    row.tree_size,
                    encode_base64(row.root_hash),
                    row.signed_at,
                    row.note + "".join(lines[row.tree_size]),
                )
                for row in shown
            ],
            next_after=shown[-1].tree_size if len(rows) > limit else None,
        )

    return page


def _latest_key(log: AuditLog) -> str:
    with log.reading() as store:
        return signed_checkpoint(store).verifier_key + "\n"


class AuditController(Controller):
    """The transparency log: what an inspector needs to verify histories offline."""

    path = "/v1/audit"
    tags = ["audit"]

    @get(
        "/public-key",
        media_type=TEXT,
        summary="The log's verifier key (C2SP note format: name+id+base64)",
        description="The key that signed the latest checkpoint. Public; compare it with the key"
        " the province publishes through another channel.",
    )
    async def public_key(self, runtime: NamedDependency[Runtime]) -> str:
        return await answer(runtime, _latest_key)

    @get(
        "/checkpoint",
        media_type=TEXT,
        cache_control=CacheControlHeader(max_age=5, public=True),
        summary="The latest signed checkpoint (a C2SP signed note, with cosignatures)",
        description="Public. The log's signature, then each witness's cosignature"
        " (c2sp.org/tlog-cosignature).",
    )
    async def checkpoint(self, runtime: NamedDependency[Runtime]) -> str:
        return await answer(runtime, latest_note)

    @get(
        "/checkpoints/{tree_size:int}",
        media_type=TEXT,
        cache_control=CacheControlHeader(max_age=60, public=True),
        summary="The checkpoint signed at a tree size (a C2SP signed note, with cosignatures)",
        description="Public. Every checkpoint ever signed is kept.",
    )
    async def checkpoint_at(
        self,
        runtime: NamedDependency[Runtime],
        tree_size: Annotated[int, PathParameter(ge=0, description="a tree size")],
    ) -> str:
        return await answer(runtime, _note_at(tree_size))

    @get(
        "/checkpoints",
        summary="Every signed checkpoint, a page at a time",
        description="Public. In increasing tree size, after `after`; follow `next_after`.",
    )
    async def checkpoints(
        self,
        runtime: NamedDependency[Runtime],
        after: Annotated[
            int,
            QueryParameter(ge=0, description="list checkpoints larger than this"),
        ] = 0,
        limit: Annotated[
            int, QueryParameter(ge=1, le=MAX_PAGE, description="checkpoints in a page")
        ] = 100,
    ) -> CheckpointPage:
        return await answer(runtime, _checkpoint_page(after, limit))

    @get(
        "/proofs/inclusion",
        guards=[require(Role.INSPECTOR)],
        summary="An event's inclusion proof in a signed checkpoint",
        description="`tree_size`: a checkpoint's size; by default the latest checkpoint's.",
        responses={409: NOT_LOGGED_YET},
    )
    async def inclusion(
        self,
        runtime: NamedDependency[Runtime],
        code: Annotated[str, QueryParameter(description="the dossier code")],
        version: Annotated[int, QueryParameter(ge=1, description="the event's version")],
        tree_size: Annotated[
            int | None, QueryParameter(ge=1, description="a checkpoint's size")
        ] = None,
    ) -> InclusionProofOut:
        dossier_code = parse_code(code)
        proof = await answer(
            runtime, lambda log: prove_inclusion(log, dossier_code, version, tree_size)
        )
        return InclusionProofOut(
            leaf_index=proof.leaf_index,
            tree_size=proof.tree_size,
            leaf_hash=encode_base64(proof.leaf_hash),
            hashes=[encode_base64(hash_) for hash_ in proof.hashes],
        )

    @get(
        "/proofs/consistency",
        guards=[require(Role.INSPECTOR)],
        summary="The consistency proof between two signed checkpoints",
        description="`from`: the older checkpoint's size (0: the empty tree); `to`: the newer's.",
    )
    async def consistency(
        self,
        runtime: NamedDependency[Runtime],
        from_: Annotated[int, QueryParameter(name="from", ge=0, description="the older size")],
        to: Annotated[int, QueryParameter(ge=1, description="the newer checkpoint's size")],
    ) -> ConsistencyProofDocument:
        hashes = await answer(
            runtime,
            lambda log: prove_consistency(log, from_, to),
            lambda size: "from" if size == from_ and size != to else "to",
        )
        return ConsistencyProofDocument(from_=from_, to=to, hashes=list(map(encode_base64, hashes)))


class DossierExportController(Controller):
    """A dossier's history with its proofs, to verify offline with `ledger verify`."""

    path = "/v1/dossiers"
    tags = ["audit"]
    guards = [require(Role.INSPECTOR)]

    @get(
        "/{code:str}/export",
        summary="A dossier's history as stored, with inclusion proofs (dossier-ledger-bundle/1)",
        description="The events included in the latest signed checkpoint, each with its stored"
        " bytes, its leaf index and its inclusion proof; see docs/audit.md.",
        responses={
            200: ResponseSpec(Bundle, description="The bundle, as indented JSON"),
            409: NOT_LOGGED_YET,
        },
    )
    async def export(
        self, runtime: NamedDependency[Runtime], code: FromPath[str]
    ) -> Response[bytes]:
        dossier_code = parse_code(code)
        bundle = await answer(runtime, lambda log: export_bundle(log, dossier_code))
        return Response(
            encode_bundle(bundle),
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="{code}.bundle.json"'},
        )
