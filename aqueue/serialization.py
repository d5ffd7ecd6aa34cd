"""Job and result encoding: orjson with type tags by default, signed pickle as an opt-in.

What round-trips faithfully with the default codec (:func:`job_serializer` / :func:`job_deserializer`):

- JSON types: ``None``, ``bool``, ``int`` (any size), ``float`` (NaN and infinities too), ``str``,
  ``list``, ``dict`` with ``str`` keys;
- ``tuple`` (stays a tuple), ``set``, ``frozenset``, ``bytes``, ``bytearray`` (comes back as ``bytes``);
- ``datetime`` (naive stays naive; aware keeps its UTC offset, as a fixed-offset zone), ``date``, ``time``,
  ``timedelta``, ``UUID``, ``Decimal``;
- ``dict`` with non-``str`` keys made of the types above;
- exceptions: rebuilt as their own class when it can be imported and built from its args, otherwise as
  :class:`aqueue.errors.TaskError` carrying the type name, message and traceback text. A rebuilt
  exception keeps its args, so its message, exactly (even if its ``__init__`` rewrites its argument).

Subclasses of ``str``/``int``/``float`` (e.g. ``StrEnum``) are encoded as their base value. Anything
else (custom classes, dataclasses, numpy arrays …) raises :class:`aqueue.errors.SerializationError` at
encode time, so nothing half-written reaches Redis. Tagged values are JSON objects with the reserved
key ``"__aq__"``; a plain dict that happens to use that key is escaped, so any value above survives.

The same two callables plug into plain arq (``job_serializer=``/``job_deserializer=``) so arq and aqueue
producers and workers can share one Redis.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib
import io
import math
import pickle
import sys
import traceback as tb
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson

from aqueue.errors import DeserializationError, SerializationError, TaskError

__all__ = ["PickleSerializer", "job_deserializer", "job_serializer", "pack", "plain_call", "unpack"]

TAG = "__aq__"
_TAG_BYTES = b'"__aq__"'
_PLAIN = (str, int, float, bool, type(None))
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1


def _pack_dict(value: dict[Any, Any]) -> Any:
    if TAG not in value and all(type(k) is str for k in value):
        return {k: pack(v) for k, v in value.items()}
    return {TAG: "dict", "v": [[pack(k), pack(v)] for k, v in value.items()]}


def _pack_exception(exc: BaseException) -> dict[str, Any]:
    text = getattr(exc, "__aqueue_traceback__", None) or "".join(tb.format_exception(exc))
    try:
        args = [pack(a) for a in exc.args]
    except SerializationError:
        args = None
    cls = type(exc)
    message = str(exc)
    if isinstance(exc, TaskError):
        return {
            TAG: "exc",
            "type": exc.type_name,
            "module": "",
            "message": exc.message,
            "args": None,
            "traceback": exc.traceback,
        }
    return {
        TAG: "exc",
        "type": cls.__qualname__,
        "module": cls.__module__,
        "message": message,
        "args": args,
        "traceback": text,
    }


def _pack_other(value: Any) -> Any:  # noqa: PLR0911 - one branch per supported type
    if isinstance(value, datetime):
        return {TAG: "datetime", "v": value.isoformat()}
    if isinstance(value, date):
        return {TAG: "date", "v": value.isoformat()}
    if isinstance(value, time):
        return {TAG: "time", "v": value.isoformat()}
    if isinstance(value, timedelta):
        return {TAG: "timedelta", "v": [value.days, value.seconds, value.microseconds]}
    if isinstance(value, UUID):
        return {TAG: "uuid", "v": str(value)}
    if isinstance(value, Decimal):
        return {TAG: "decimal", "v": str(value)}
    if isinstance(value, bytes | bytearray | memoryview):
        return {TAG: "bytes", "v": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, set | frozenset):
        return {
            TAG: type(value).__name__ if type(value) in (set, frozenset) else "set",
            "v": [pack(v) for v in value],
        }
    if isinstance(value, BaseException):
        return _pack_exception(value)
    return _pack_subclass(value)


def _pack_subclass(value: Any) -> Any:
    for base in (bool, int, float, str):
        if isinstance(value, base):
            return base(value)
    if isinstance(value, tuple):
        return {TAG: "tuple", "v": [pack(v) for v in value]}
    if isinstance(value, list):
        return [pack(v) for v in value]
    if isinstance(value, dict):
        return _pack_dict(value)
    raise SerializationError(
        f"cannot encode a value of type {type(value).__qualname__!r} ({_short_repr(value)}); "
        "pass JSON types, tuples, bytes, datetimes, UUIDs or Decimals, or opt into PickleSerializer"
    )


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def pack(value: Any) -> Any:  # noqa: PLR0911 - a fast path per common type
    """Turn ``value`` into JSON-native data with type tags; raise SerializationError if impossible."""
    cls = type(value)
    if cls in _PLAIN:
        if cls is float and not math.isfinite(value):  # JSON has no NaN/inf: tag them
            return {TAG: "float", "v": repr(value)}
        if cls is int and not _INT_MIN <= value <= _INT_MAX:  # beyond 64 bits: carried as text
            return {TAG: "int", "v": str(value)}
        return value
    if cls is list:
        return [pack(v) for v in value]
    if cls is dict:
        return _pack_dict(value)
    if cls is tuple:
        return {TAG: "tuple", "v": [pack(v) for v in value]}
    return _pack_other(value)


def _exception_class(module: str, qualname: str) -> type[BaseException] | None:
    if not module:
        return None
    try:
        obj: Any = sys.modules.get(module) or importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except Exception:
        return None
    return obj if isinstance(obj, type) and issubclass(obj, BaseException) else None


def _unpack_exception(data: dict[str, Any]) -> BaseException:
    type_name, message, text = (
        data.get("type", "Exception"),
        data.get("message", ""),
        data.get("traceback", ""),
    )
    cls = _exception_class(data.get("module", ""), type_name)
    exc: BaseException | None = None
    if cls is not None and data.get("args") is not None:
        args = tuple(unpack(a) for a in data["args"])
        try:
            exc = cls(*args)
        except Exception:
            exc = None
        else:
            exc.args = args  # an __init__ that rewrites its argument (adds a prefix) must not do it twice
    if exc is None:
        exc = TaskError(type_name, message, text)
    exc.__aqueue_traceback__ = text  # type: ignore[attr-defined]
    if text:
        exc.add_note(f"Traceback from the worker:\n{text.rstrip()}")
    return exc


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "tuple": lambda v: tuple(unpack(x) for x in v),
    "set": lambda v: {unpack(x) for x in v},
    "frozenset": lambda v: frozenset(unpack(x) for x in v),
    "dict": lambda v: {unpack(k): unpack(x) for k, x in v},
    "bytes": base64.b64decode,
    "datetime": datetime.fromisoformat,
    "date": date.fromisoformat,
    "time": time.fromisoformat,
    "timedelta": lambda v: timedelta(days=v[0], seconds=v[1], microseconds=v[2]),
    "uuid": UUID,
    "decimal": Decimal,
    "float": float,
    "int": int,
}


def unpack(value: Any) -> Any:
    """Reverse :func:`pack`: rebuild tagged values from JSON-native data."""
    cls = type(value)
    if cls is list:
        return [unpack(v) for v in value]
    if cls is not dict:
        return value
    tag = value.get(TAG)
    if tag is None:
        return {k: unpack(v) for k, v in value.items()}
    if tag == "exc":
        return _unpack_exception(value)
    decoder = _DECODERS.get(tag)
    if decoder is None:
        raise DeserializationError(f"unknown type tag {tag!r} in payload")
    return decoder(value["v"])


def plain_call(args: Sequence[Any], kwargs: dict[str, Any]) -> bool:
    """Return True if ``args`` and ``kwargs`` are JSON as they are, so a job envelope needs no tags.

    Plain means a ``str``, ``bool``, ``None``, a 64-bit ``int`` or a finite ``float`` (exact types, no
    subclasses). Checking costs far less than :func:`pack` does, most on a process that was idle.
    """
    if kwargs and (TAG in kwargs or not all(type(k) is str for k in kwargs)):
        return False
    for values in (args, kwargs.values()):
        for v in values:
            cls = type(v)
            if cls is str or cls is bool or v is None:
                continue
            if cls is int:
                if not _INT_MIN <= v <= _INT_MAX:
                    return False
            elif cls is not float or v - v != 0.0:  # inf - inf and nan - nan are nan
                return False
    return True


def job_serializer(obj: Any) -> bytes:
    """Encode ``obj`` (a job or result envelope, or any value) to bytes; arq's ``job_serializer``."""
    try:
        return orjson.dumps(pack(obj))
    except SerializationError:
        raise
    except (TypeError, ValueError, orjson.JSONEncodeError) as e:
        raise SerializationError(f"cannot encode value: {e}") from e


def job_deserializer(data: bytes) -> Any:
    """Decode bytes written by :func:`job_serializer`; arq's ``job_deserializer``."""
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise DeserializationError(f"payload is not valid JSON ({e}); is it from another serializer?") from e
    return unpack(raw) if _TAG_BYTES in data else raw


def _rebuild_exception(cls: type[BaseException], args: tuple[Any, ...]) -> BaseException:
    """Rebuild a pickled exception with its args as they were (its attributes follow as pickle state).

    Pickle's own way calls ``cls(*args)``, which repeats what ``__init__`` did to its argument (a
    prefixed message comes back prefixed twice) and fails for an ``__init__`` that wants other
    arguments than it passed on. Stored pickles name this function: keep its name.
    """
    try:
        exc = cls(*args)
    except Exception:
        exc = cls.__new__(cls, *args)
    exc.args = args
    return exc


class _Pickler(pickle.Pickler):
    """Pickles exceptions through :func:`_rebuild_exception` (unless their class has its own reduce)."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, BaseException) and type(obj).__reduce__ is BaseException.__reduce__:
            return _rebuild_exception, (type(obj), obj.args), obj.__dict__ or None
        return NotImplemented


class PickleSerializer:
    """Pickle, signed with HMAC-SHA256: an explicit opt-in for Python objects JSON cannot carry.

    Payloads are only unpickled after their signature checks out, so a process that can write to
    Redis but does not know ``secret_key`` cannot make workers run arbitrary code. Use the instance's
    ``dumps``/``loads`` as ``job_serializer``/``job_deserializer``.
    """

    _MAGIC = b"AQP1"

    def __init__(self, secret_key: bytes | str) -> None:
        key = secret_key.encode() if isinstance(secret_key, str) else secret_key
        if len(key) < 16:
            raise ValueError("PickleSerializer needs a secret_key of at least 16 bytes")
        self._key = key

    def _sign(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()

    def dumps(self, obj: Any) -> bytes:
        """Pickle and sign ``obj``."""
        buffer = io.BytesIO()
        try:
            _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
        except Exception as e:
            raise SerializationError(f"cannot pickle value: {e}") from e
        body = buffer.getvalue()
        return self._MAGIC + self._sign(body) + body

    def loads(self, data: bytes) -> Any:
        """Verify the signature, then unpickle."""
        magic, mac, body = data[:4], data[4:36], data[36:]
        if magic != self._MAGIC or not hmac.compare_digest(mac, self._sign(body)):
            raise DeserializationError("pickle payload has no valid signature; refusing to unpickle it")
        return pickle.loads(body)  # signature verified above
