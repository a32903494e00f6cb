"""The base of every wire model: JSON in, JSON out, no field lost."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict


def new_id(prefix: str) -> str:
    """A fresh identifier in the style of the realtime services (``item_3f9c…``)."""
    return f"{prefix}_{uuid.uuid4().hex[:22]}"


class WireModel(BaseModel):
    """A model of a JSON object on the wire.

    Unknown fields are kept (``extra="allow"``) so nothing is lost in a round trip.
    Serialization omits a field only when it is ``None`` and was never set: an explicit
    ``null`` (such as ``"turn_detection": null``) survives, and so do defaults such as ``type``.
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def model_post_init(self, context: Any, /) -> None:
        fields_set = self.__pydantic_fields_set__
        for name in type(self).model_fields:
            if name not in fields_set and getattr(self, name) is not None:
                fields_set.add(name)

    def to_dict(self) -> dict[str, Any]:
        """The wire form as a JSON-ready dict."""
        return self.model_dump(mode="json", exclude_unset=True)

    def to_json(self) -> str:
        """The wire form as compact JSON text."""
        return self.model_dump_json(exclude_unset=True)
