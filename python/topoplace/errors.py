"""The exceptions topoplace raises.

Every exception derives from :class:`TopoplaceError`. "Does not fit" is never an exception: it is
a result. Exceptions are for bad input, misuse and internal faults, and they name the offending
source, line and object.
"""

from __future__ import annotations

import builtins

__all__ = ["InvalidValueError", "ObjectError", "TopologyError", "TopoplaceError"]


class TopoplaceError(Exception):
    """Root of every topoplace exception."""


class TopologyError(TopoplaceError, ValueError):
    """A topology source is malformed or inconsistent.

    Attributes:
        source: the file name or source label (``"<string>"`` for anonymous text).
        line: the 1-based line, when the format has lines and it is known.
        object: the object or field, e.g. ``"object[type=PU] os_index"``.
        reason: what is wrong, without the location.
    """

    source: str | None
    line: int | None
    object: str | None
    reason: str

    def __init__(
        self,
        message: str,
        source: str | None = None,
        line: int | None = None,
        object: str | None = None,  # noqa: A002 - the field is called "object" in the core
        reason: str | None = None,
    ) -> None:
        super().__init__(message)
        self.source = source
        self.line = line
        self.object = object
        self.reason = reason if reason is not None else message

    def __reduce__(self) -> tuple[type[TopologyError], tuple[builtins.object, ...]]:
        return (type(self), (str(self), self.source, self.line, self.object, self.reason))


class InvalidValueError(TopoplaceError, ValueError):
    """A value given by the caller is invalid (a CPU list such as ``"3-1"``, an unknown name)."""


class ObjectError(TopoplaceError, ValueError):
    """A Kubernetes object (a DRA ResourceSlice, DeviceClass, ResourceClaim, a Node...) is
    malformed or would be rejected by the API server.

    Attributes:
        object: the object's kind and name, e.g. ``"ResourceClaim default/claim-0"``.
        path: the JSON path of the field, e.g. ``"spec.devices.requests[1].exactly.count"``.
        reason: what is wrong, without the object and path.
    """

    object: str
    path: str
    reason: str

    def __init__(
        self,
        message: str,
        object: str = "",  # noqa: A002 - the field is called "object" in the core
        path: str = "",
        reason: str | None = None,
    ) -> None:
        super().__init__(message)
        self.object = object
        self.path = path
        self.reason = reason if reason is not None else message

    def __reduce__(self) -> tuple[type[ObjectError], tuple[builtins.object, ...]]:
        return (type(self), (str(self), self.object, self.path, self.reason))
