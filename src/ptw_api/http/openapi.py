"""The OpenAPI document's shared parts: the problem responses every operation may give (SEC-07), and request
bodies documented as closed as they are decoded (SEC-12)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import Reference, Schema
from litestar.typing import FieldDefinition

from ptw_api.http.problems import Problem

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator

_MEDIA = "application/problem+json"


def _spec(description: str) -> ResponseSpec:
    return ResponseSpec(data_container=Problem, description=description, media_type=_MEDIA)


PROBLEM_RESPONSES: dict[int, ResponseSpec] = {
    400: _spec("Malformed request (unreadable JSON)"),
    401: _spec("Missing, invalid or expired token; or signing needs fresh re-authentication (SIG-04)"),
    403: _spec("The role or party position does not allow this (SEC-04, SEC-05)"),
    404: _spec("Unknown, or not visible from this project (TEN-02)"),
    409: _spec("Refused by a lifecycle rule or guard; `rule_ids` and `blockers` say which (RDY-04)"),
    412: _spec("If-Match names another version (SEC-10)"),
    413: _spec("Body over the limit (SEC-11)"),
    422: _spec("Invalid field, unknown or derived field, wrong type, bad parameter (SEC-12)"),
    429: _spec("Rate limited (SEC-06); see Retry-After"),
    503: _spec("The event store or read database did not answer (`unavailable`); see Retry-After"),
}
QUERY_RESPONSES: dict[int, ResponseSpec] = {
    k: v for k, v in PROBLEM_RESPONSES.items() if k in (400, 401, 403, 404, 422, 429)
} | {
    503: _spec(
        "The read models did not reach the caller's last write in time (`not_caught_up`, RM-08), or the "
        "database did not answer (`unavailable`); see Retry-After"
    )
}


class ClosedStructSchemaPlugin(StructSchemaPlugin):
    """Structs documented as they are decoded (SEC-12), where Litestar 2.25 documents less than msgspec checks:
    a Struct that forbids unknown fields gets `additionalProperties: false`; a fixed-length tuple its length; a
    mapping keyed by an enum the allowed keys (`propertyNames`); and a length-limited `tuple[T, ...]` items `T`
    instead of `oneOf: [T, {}]` (which accepts anything in a request and matches a `T` twice in a response)."""

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: SchemaCreator) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        info = msgspec.inspect.type_info(field_definition.type_)
        assert isinstance(info, msgspec.inspect.StructType)
        if info.forbid_unknown_fields:
            schema.additional_properties = False
        properties = schema.properties or {}
        for field in info.fields:
            prop = properties.get(field.encode_name)
            if isinstance(prop, Schema):
                _document_as_decoded(prop)
                keys = _enum_keys(field.type)
                if keys:
                    prop.property_names = Schema(enum=keys)
        return schema


def _document_as_decoded(schema: Schema | Reference) -> None:
    """Fix, at any depth, the empty schema Litestar makes of the `...` in a constrained `tuple[T, ...]`, and the
    missing length of a fixed-length tuple."""
    if not isinstance(schema, Schema):
        return
    items = schema.items
    if isinstance(items, Schema) and items.one_of and Schema() in items.one_of:
        kept = [s for s in items.one_of if s != Schema()]
        schema.items = kept[0] if len(kept) == 1 else Schema(one_of=kept)
    if schema.prefix_items and schema.min_items is None and schema.max_items is None:
        schema.min_items = schema.max_items = len(schema.prefix_items)
    for child in (
        schema.items,
        schema.additional_properties,
        *(schema.one_of or ()),
        *(schema.any_of or ()),
        *(schema.prefix_items or ()),
    ):
        if isinstance(child, Schema | Reference):
            _document_as_decoded(child)


def _enum_keys(kind: msgspec.inspect.Type) -> list[Any] | None:
    """The allowed keys of a mapping keyed by an enum (or literal), else None."""
    while isinstance(kind, msgspec.inspect.Metadata):
        kind = kind.type
    if not isinstance(kind, msgspec.inspect.DictType):
        return None
    key = kind.key_type
    if isinstance(key, msgspec.inspect.EnumType):
        return [member.value for member in key.cls]
    if isinstance(key, msgspec.inspect.LiteralType):
        return list(key.values)
    return None
