"""Key paths of pytrees: the entries ``tree_flatten_with_path`` returns, and ``keystr``.

Re-exported by ``engine.tree_util``, where users find them (as ``jax.tree_util``).
"""


class _KeyEntry:
    __slots__ = ()
    _attr = ""

    def __init__(self, value):
        setattr(self, self._attr, value)

    def _value(self):
        return getattr(self, self._attr)

    def __eq__(self, other):
        return type(other) is type(self) and self._value() == other._value()

    def __hash__(self):
        return hash((type(self).__name__, self._value()))

    def __repr__(self):
        return f"{type(self).__name__}({self._attr}={self._value()!r})"


class SequenceKey(_KeyEntry):
    """Position in a tuple or list; prints as ``[0]``."""

    __slots__ = ("idx",)
    __match_args__ = ("idx",)
    _attr = "idx"

    def __str__(self):
        return f"[{self.idx!r}]"


class DictKey(_KeyEntry):
    """Key of a dict-like node; prints as ``['a']``."""

    __slots__ = ("key",)
    __match_args__ = ("key",)
    _attr = "key"

    def __str__(self):
        return f"[{self.key!r}]"


class GetAttrKey(_KeyEntry):
    """Attribute of a namedtuple or dataclass; prints as ``.name``."""

    __slots__ = ("name",)
    __match_args__ = ("name",)
    _attr = "name"

    def __str__(self):
        return f".{self.name}"


class FlattenedIndexKey(_KeyEntry):
    """Child index of a custom node registered without keys."""

    __slots__ = ("key",)
    __match_args__ = ("key",)
    _attr = "key"

    def __str__(self):
        return f"[<flat index {self.key}>]"


KeyEntry = object
KeyPath = tuple


def keystr(keys, *, simple=False, separator=""):
    """Join a key path into a string: ``['a'][0].b``, or ``a/0/b`` with simple=True."""
    if simple:
        return separator.join(str(k._value()) if isinstance(k, _KeyEntry) else str(k) for k in keys)
    return separator.join(map(str, keys))
