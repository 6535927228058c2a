"""Registering pytree node types for ``Exported`` serialization, as JAX's
``register_pytree_node_serialization`` / ``register_namedtuple_serialization``: a
custom node is written as its ``serialized_name`` and its serialized auxdata, and read
back through the registration of that name."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from .. import tree_util

T = TypeVar("T")

# nodetype -> (serialized_name, serialize_auxdata)
serialization_registry: dict[type, tuple[str, Callable[[Any], bytes]]] = {}
# serialized_name -> (nodetype, deserialize_auxdata, from_children)
deserialization_registry: dict[str, tuple[type, Callable[[bytes], Any], Callable[..., Any]]] = {}


def _is_namedtuple(nodetype: type) -> bool:
    fields = getattr(nodetype, "_fields", None)
    return (
        isinstance(nodetype, type)
        and issubclass(nodetype, tuple)
        and isinstance(fields, Sequence)
        and all(isinstance(f, str) for f in fields)
    )


def register_pytree_node_serialization(
    nodetype: type[T],
    *,
    serialized_name: str,
    serialize_auxdata: Callable[[Any], bytes],
    deserialize_auxdata: Callable[[bytes], Any],
    from_children: Callable[[Any, Sequence[Any]], Any] | None = None,
) -> type[T]:
    """Make ``nodetype`` serializable in ``Exported.in_tree`` / ``out_tree``. Without
    ``from_children`` the type's registered unflatten function rebuilds it."""
    if nodetype in serialization_registry:
        raise ValueError(
            f"Duplicate serialization registration for type `{nodetype}`. "
            "Previous registration was with serialized_name "
            f"`{serialization_registry[nodetype][0]}`."
        )
    if serialized_name in deserialization_registry:
        raise ValueError(
            "Duplicate serialization registration for "
            f"serialized_name `{serialized_name}`. Previous registration was for type "
            f"`{deserialization_registry[serialized_name][0]}`."
        )
    if from_children is None:
        custom = tree_util._custom.get(nodetype)
        if custom is None:
            raise ValueError(
                "If `from_children` is not present, you must call first "
                f"`register_pytree_node` for `{nodetype}`"
            )
        from_children = custom.unflatten
    serialization_registry[nodetype] = (serialized_name, serialize_auxdata)
    deserialization_registry[serialized_name] = (nodetype, deserialize_auxdata, from_children)
    return nodetype


def register_namedtuple_serialization(nodetype: type[T], *, serialized_name: str) -> type[T]:
    """Make a ``collections.namedtuple`` type serializable (its field names are the
    auxdata, as JSON, so JAX reads what the engine writes and the reverse)."""
    if not _is_namedtuple(nodetype):
        raise ValueError(
            "Use `register_pytree_node_serialization` for types other than "
            "`collections.namedtuple`."
        )
    fields = list(nodetype._fields)  # type: ignore[attr-defined]

    def serialize_auxdata(aux: Any) -> bytes:
        return json.dumps(fields).encode("utf-8")

    def deserialize_auxdata(data: bytes) -> Any:
        return json.loads(data.decode("utf-8"))

    def from_children(keys: Any, children: Sequence[Any]) -> Any:
        return nodetype(**dict(zip(keys, children)))

    return register_pytree_node_serialization(
        nodetype,
        serialized_name=serialized_name,
        serialize_auxdata=serialize_auxdata,
        deserialize_auxdata=deserialize_auxdata,
        from_children=from_children,
    )
