"""The building blocks of request schemas: bounded ids, bodies that refuse unknown fields and
NUL characters, PATCH fields that may be left out but not nulled."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import Field, ValidationError

from frontdesk.kit.schemas import MAX_ID, Id, NotNull, RequestBody


class Patch(RequestBody):
    status: NotNull[Literal["open", "closed"]] = None
    name: NotNull[str] = Field(default=None, min_length=1)
    owner_id: Id | None = None
    member_ids: NotNull[list[Id]] = None
    attributes: NotNull[dict[str, object]] = None


def problem(data: dict[str, object]) -> tuple[str, tuple[object, ...]]:
    with pytest.raises(ValidationError) as raised:
        Patch.model_validate(data)
    first = raised.value.errors()[0]
    return first["type"], first["loc"]


class TestId:
    @pytest.mark.parametrize("value", [0, -1, MAX_ID + 1, 2**63, 2**64 + 5])
    def test_outside_the_id_range_is_refused(self, value):
        assert problem({"owner_id": value})[1] == ("owner_id",)
        assert problem({"member_ids": [1, value]})[1] == ("member_ids", 1)

    def test_inside_the_range_is_taken(self):
        assert Patch.model_validate({"owner_id": MAX_ID, "member_ids": [1]}).owner_id == MAX_ID

    def test_the_schema_says_the_range(self):
        owner = Patch.model_json_schema()["properties"]["owner_id"]["anyOf"][0]
        assert (owner["minimum"], owner["maximum"]) == (1, MAX_ID)


class TestNotNull:
    def test_left_out_is_unchanged(self):
        assert Patch.model_validate({}).model_dump(exclude_unset=True) == {}

    @pytest.mark.parametrize("field", ["status", "name", "member_ids", "attributes"])
    def test_null_is_refused(self, field):
        assert problem({field: None}) == ("not_null", (field,))

    def test_null_stays_allowed_where_it_means_nothing(self):
        assert Patch.model_validate({"owner_id": None}).owner_id is None

    def test_the_schema_does_not_offer_null(self):
        status = Patch.model_json_schema()["properties"]["status"]
        assert status["enum"] == ["open", "closed"] and "anyOf" not in status


class TestRequestBody:
    def test_unknown_fields_are_refused_by_name(self):
        assert problem({"name": "x", "colour": "red"}) == ("extra_forbidden", ("colour",))
        assert Patch.model_json_schema()["additionalProperties"] is False

    @pytest.mark.parametrize(
        "data",
        [
            {"name": "a\x00b"},
            {"attributes": {"nested": ["ok", "bad\x00"]}},
            {"attributes": {"key\x00": 1}},
        ],
    )
    def test_a_nul_anywhere_is_refused(self, data):
        kind, _ = problem(data)
        assert kind == "nul_character"
