"""Request bodies decoded strictly, in one pass, by the contract's own decoders.

Litestar would decode a body to Python objects and then convert them leniently (a string for an
integer passes), with messages that lose the field's path. A `JsonBody` is a Litestar DTO that
hands the raw bytes to a decoder of `api.contract` instead, after checking the media type; the
OpenAPI document still shows the handler's declared type.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, ClassVar

import msgspec
import msgspec.inspect

# Litestar's own schema plugin for msgspec structs (not exported; its behaviour is extended here).
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.dto import AbstractDTO
from litestar.dto.data_structures import DTOFieldDefinition
from litestar.typing import FieldDefinition

from api.headers import scope_header
from api.problems import ProblemError

JSON = "application/json"


class JsonBody(AbstractDTO[Any]):
    """A body for `decode`: 415 unless JSON, 400/422 problems from the contract's decoder."""

    decode: ClassVar[Callable[[bytes], Any]]

    @classmethod
    def of(cls, decode: Callable[[bytes], Any]) -> type[JsonBody]:
        return type(f"JsonBody_{decode.__name__}", (cls,), {"decode": staticmethod(decode)})

    def decode_bytes(self, value: bytes) -> Any:
        scope = self.asgi_connection.scope
        require_json(scope_header(scope, b"content-type"))
        decoded = type(self).decode(value)
        scope["state"][WIRE_BYTES] = len(value)
        return decoded

    def decode_builtins(self, value: dict[str, Any]) -> Any:  # a form: not JSON
        raise unsupported_media_type(scope_header(self.asgi_connection.scope, b"content-type"))

    @classmethod
    def create_for_field_definition(
        cls, field_definition: FieldDefinition, handler_id: str, backend_cls: Any = None
    ) -> None:
        """No transfer model: the decoder returns the contract's own structs."""

    @classmethod
    def create_openapi_schema(
        cls, field_definition: FieldDefinition, handler_id: str, schema_creator: Any
    ) -> Any:
        return schema_creator.for_field_definition(field_definition)

    @classmethod
    def generate_field_definitions(
        cls, model_type: type[Any]
    ) -> Generator[DTOFieldDefinition, None, None]:
        yield from ()

    @classmethod
    def detect_nested_field(cls, field_definition: FieldDefinition) -> bool:
        return False


WIRE_BYTES = "wire_bytes"
"""The scope state's key for the length of the body as sent (set once it is decoded)."""


def require_json(content_type: str | None) -> None:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != JSON and not (
        media_type.startswith("application/") and media_type.endswith("+json")
    ):
        raise unsupported_media_type(content_type)


def unsupported_media_type(content_type: str | None) -> ProblemError:
    return ProblemError(
        415,
        "unsupported_media_type",
        f"the body must be {JSON}, not {content_type or 'without a Content-Type'}",
        field="Content-Type",
    )


def missing_body() -> ProblemError:
    return ProblemError(400, "malformed_json", "the body is empty; it must be a JSON object")


class StrictStructSchemas(StructSchemaPlugin):
    """OpenAPI schemas of msgspec structs that say `additionalProperties: false` where the
    struct refuses unknown fields, as every struct of the contract does."""

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: Any) -> Any:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        if field_definition.type_.__struct_config__.forbid_unknown_fields:
            schema.additional_properties = False
        _restore_zero_bounds(field_definition.type_, schema)
        return schema


def _restore_zero_bounds(struct: type[msgspec.Struct], schema: Any) -> None:
    """Litestar leaves out a bound of 0 (`ge=0` reads as no bound): put `minimum: 0` back."""
    info = msgspec.inspect.type_info(struct)
    for field in getattr(info, "fields", ()):
        types = (
            field.type.types if isinstance(field.type, msgspec.inspect.UnionType) else (field.type,)
        )
        for kind in types:
            if isinstance(kind, msgspec.inspect.IntType) and (kind.ge == 0 or kind.gt == -1):
                shown = (schema.properties or {}).get(field.encode_name)
                if shown is not None and getattr(shown, "minimum", 0) is None:
                    shown.minimum = 0
