"""Job and result encoding: orjson with type tags by default, signed pickle as an opt-in.

What round-trips faithfully with the default codec (:func:`job_serializer` / :func:`job_deserializer`),
as job arguments and as results:

- JSON types: ``None``, ``bool``, ``int`` (any size), ``float`` (NaN and infinities too), ``str``,
  ``list``, ``dict`` with ``str`` keys;
- ``tuple`` (stays a tuple), ``set``, ``frozenset``, ``bytes``, ``bytearray`` (comes back as ``bytes``);
- ``datetime`` (naive stays naive; aware keeps its UTC offset, as a fixed-offset zone), ``date``, ``time``,
  ``timedelta``, ``UUID``, ``Decimal``;
- ``pathlib`` paths: ``PurePosixPath`` and ``PureWindowsPath`` exactly; a ``Path`` comes back as the
  decoding process's concrete ``Path`` (a ``PosixPath`` on Linux, whatever the producer ran on);
- ``dict`` with non-``str`` keys made of the types listed here;
- exceptions: rebuilt as their own class when it can be imported and built from its args, otherwise as
  :class:`aqueue.errors.TaskError` carrying the type name, message and traceback text. A rebuilt
  exception keeps its args, so its message, exactly (even if its ``__init__`` rewrites its argument);
- classes named by import path (``module:qualname``), rebuilt by the process that decodes them:

  - enum members (``Enum``, ``IntEnum``, ``StrEnum``, ``Flag``, ``IntFlag``), by value: a renamed member
    still matches, a combination of flags too; a value the decoding process's enum no longer has fails
    with :class:`~aqueue.errors.DeserializationError`;
  - dataclasses (frozen, with ``slots=True``, ``kw_only`` alike), by their ``__init__`` fields: the values
    are encoded as they are at run time, so a field may hold any value listed here (nested dataclasses,
    enums, datetimes …), and the decoding process calls ``cls(**fields)``, so ``__post_init__`` runs
    again. Fields with ``init=False`` are not carried: ``__init__``/``__post_init__`` (or the default)
    sets them again, as ``dataclasses.replace`` does. An ``InitVar`` with a default gets its default; a
    dataclass whose ``__init__`` needs anything that is not one of its fields is refused at encode time;
  - pydantic v2 models (when pydantic is installed; aqueue never imports it itself), through pydantic's
    own JSON round trip: ``model_dump_json(by_alias=True, round_trip=True)``, then
    ``cls.model_validate_json``, so validators run again and strict models accept their own output;
    what ``Model.model_validate_json(m.model_dump_json(by_alias=True))`` gives back is what arrives (a
    field whose serialization alias differs from its validation alias does not round-trip);
  - any class given a codec with :func:`register`.

A class defined inside a function cannot be found again by import path: encoding its instances fails at
once (register a codec with a ``name``). A rich value that the decoding process cannot rebuild (its
module cannot be imported, the class is gone or no longer a dataclass, its ``__init__`` or validators
refuse the fields, the enum has no such value, no codec is registered under that name) raises a
:class:`~aqueue.errors.DeserializationError` that names the class and why; on a worker, that attempt
fails with it (no retry: another try would meet the same code) and the failure is recorded as the job's
result, the worker carries on.

**What decoding may call.** A payload names a class only inside a tag that says which kind it must be
(``dataclass``, ``enum``, ``pydantic``). The decoding process imports the named module (running its
top-level code, as any import does: only modules it can import), looks the name up, and checks that it
is a class of that kind, refusing the value otherwise; it then calls only the class itself
(``cls(**fields)``, ``cls(value)``) or ``cls.model_validate_json``. So a payload that names
``os:system``, or any other function or class, is refused without calling it. Registered codecs are
looked up by name among this process's registrations, never imported. Exceptions follow the same rule
(their class must be an exception class). The pickle codec has no such limits: it is signed instead.

Other subclasses of the types above (a ``str`` subclass, a ``datetime`` subclass …) come back as that
type. Anything else (plain custom classes, numpy arrays …) raises
:class:`aqueue.errors.SerializationError` at encode time, so nothing half-written reaches Redis. Tagged
values are JSON objects with the reserved key ``"__aq__"``; a plain dict that happens to use that key is
escaped, so any value above survives.

The same two callables plug into plain arq (``job_serializer=``/``job_deserializer=``) so arq and aqueue
producers and workers can share one Redis.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import importlib
import inspect
import io
import math
import pickle
import sys
import traceback as tb
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from pathlib import Path, PosixPath, PurePosixPath, PureWindowsPath, WindowsPath
from typing import Any, TypeVar
from uuid import UUID

import orjson

from aqueue.errors import DeserializationError, SerializationError, TaskError

__all__ = [
    "PickleSerializer",
    "job_deserializer",
    "job_serializer",
    "pack",
    "plain_call",
    "register",
    "unpack",
]

TAG = "__aq__"
_TAG_BYTES = b'"__aq__"'
_PLAIN = (str, int, float, bool, type(None))
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1

T = TypeVar("T")
Encoder = Callable[[Any], Any]
_KEYWORD = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
_NAMED = (inspect.Parameter.POSITIONAL_ONLY, *_KEYWORD)


# -- encoding -------------------------------------------------------------------------------------


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
    if type(exc) is TaskError:  # a subclass (ProcessCrashed) is rebuilt as itself, from its args
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


def _tagged(tag: str, convert: Callable[[Any], Any]) -> Encoder:
    def encode(value: Any) -> dict[str, Any]:
        return {TAG: tag, "v": convert(value)}

    return encode


def _packed_items(value: Any) -> list[Any]:
    return [pack(v) for v in value]


def _bytes_text(value: Any) -> str:
    return base64.b64encode(bytes(value)).decode()


_PACK_DATETIME = _tagged("datetime", datetime.isoformat)
_PACK_DATE = _tagged("date", date.isoformat)
_PACK_TIME = _tagged("time", time.isoformat)
_PACK_TIMEDELTA = _tagged("timedelta", lambda v: [v.days, v.seconds, v.microseconds])
_PACK_UUID = _tagged("uuid", str)
_PACK_DECIMAL = _tagged("decimal", str)
_PACK_BYTES = _tagged("bytes", _bytes_text)
_PACK_SET = _tagged("set", _packed_items)
_PACK_PATH = _tagged("path", str)
_PACK_POSIX = _tagged("pureposixpath", str)
_PACK_WINDOWS = _tagged("purewindowspath", str)

#: How to encode each exact type that is not JSON as it is: the types carried natively, registered
#: codecs (which may replace the built-in handling of an enum, a dataclass or a model), and classes
#: learned on first sight (:func:`_encoder_for`), so each value costs one lookup.
_ENCODERS: dict[type, Encoder] = {
    datetime: _PACK_DATETIME,
    date: _PACK_DATE,
    time: _PACK_TIME,
    timedelta: _PACK_TIMEDELTA,
    UUID: _PACK_UUID,
    Decimal: _PACK_DECIMAL,
    bytes: _PACK_BYTES,
    bytearray: _PACK_BYTES,
    memoryview: _PACK_BYTES,
    set: _PACK_SET,
    frozenset: _tagged("frozenset", _packed_items),
    PosixPath: _PACK_PATH,
    WindowsPath: _PACK_PATH,
    PurePosixPath: _PACK_POSIX,
    PureWindowsPath: _PACK_WINDOWS,
}
#: Types the codec carries itself: register() refuses them (and exceptions, rebuilt their own way).
_NATIVE = frozenset({*_PLAIN, list, dict, tuple, *_ENCODERS})

#: Subclasses of carried types come back as the type they extend (most specific first).
_BASES: tuple[tuple[type, Encoder], ...] = (
    (int, lambda v: pack(int(v))),  # as the base type, so beyond 64 bits or not finite it is tagged
    (float, lambda v: pack(float(v))),
    (str, str),
    (datetime, _PACK_DATETIME),
    (date, _PACK_DATE),
    (time, _PACK_TIME),
    (timedelta, _PACK_TIMEDELTA),
    (UUID, _PACK_UUID),
    (Decimal, _PACK_DECIMAL),
    (bytes, _PACK_BYTES),
    (bytearray, _PACK_BYTES),
    (set, _PACK_SET),
    (frozenset, _PACK_SET),
    (Path, _PACK_PATH),
    (PurePosixPath, _PACK_POSIX),
    (PureWindowsPath, _PACK_WINDOWS),
    (tuple, _tagged("tuple", _packed_items)),
    (list, _packed_items),
    (dict, _pack_dict),
)


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _learn(value: Any) -> Encoder:
    """Return how to encode ``value``'s class, seen for the first time, and remember it."""
    cls = type(value)
    encoder = _encoder_for(cls)
    if encoder is None:
        raise SerializationError(
            f"cannot encode a value of type {cls.__qualname__!r} ({_short_repr(value)}); pass JSON "
            "types, tuples, bytes, datetimes, UUIDs, Decimals, paths, enums, dataclasses or pydantic "
            "models, register() a codec for it, or opt into PickleSerializer"
        )
    _ENCODERS[cls] = encoder
    return encoder


def _encoder_for(cls: type) -> Encoder | None:
    """Return how to encode instances of ``cls``, a type seen for the first time (None: it cannot be)."""
    if issubclass(cls, Enum):
        return _enum_encoder(cls)
    if issubclass(cls, BaseException):
        return _pack_exception
    if dataclasses.is_dataclass(cls):
        return _dataclass_encoder(cls)
    if _is_model(cls):
        return _model_encoder(cls)
    return next((encoder for base, encoder in _BASES if issubclass(cls, base)), None)


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
    encoder = _ENCODERS.get(cls)
    if encoder is None:
        encoder = _learn(value)
    return encoder(value)


# -- classes named by import path -----------------------------------------------------------------


def _is_model(cls: type) -> bool:
    """Return whether ``cls`` is a pydantic v2 model, without importing pydantic (none exists if it isn't)."""
    pydantic = sys.modules.get("pydantic")
    return pydantic is not None and issubclass(cls, pydantic.BaseModel)


def _class_path(cls: type) -> str:
    """Return ``module:qualname`` for ``cls``; raise SerializationError if that path does not find it."""
    path = f"{cls.__module__}:{cls.__qualname__}"
    module = sys.modules.get(cls.__module__)
    try:
        found = _attribute(module, cls.__qualname__) if module is not None else None
    except AttributeError:
        found = None
    if found is not cls:
        raise SerializationError(
            f"cannot encode a {cls.__qualname__!r}: its class cannot be found again as {path!r} (defined "
            "inside a function?); define it at module level, or register() a codec for it with a name"
        )
    return path


def _attribute(module: Any, qualname: str) -> Any:
    obj = module
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _enum_encoder(cls: type[Enum]) -> Encoder:
    path = _class_path(cls)

    def encode(member: Enum) -> dict[str, Any]:
        return {TAG: "enum", "cls": path, "v": pack(member.value)}

    return encode


def _dataclass_encoder(cls: type) -> Encoder:
    path = _class_path(cls)
    names = _init_fields(cls, path)

    def encode(obj: Any) -> dict[str, Any]:
        return {TAG: "dataclass", "cls": path, "v": {name: pack(getattr(obj, name)) for name in names}}

    return encode


def _init_fields(cls: type, path: str) -> tuple[str, ...]:
    """Return the fields ``cls(**fields)`` takes; raise SerializationError if its ``__init__`` differs."""
    names = tuple(f.name for f in dataclasses.fields(cls) if f.init)
    try:
        parameters = list(inspect.signature(cls).parameters.values())
    except (TypeError, ValueError):  # no signature to check: cls(**fields) will tell on decoding
        return names
    by_keyword = {p.name for p in parameters if p.kind in _KEYWORD}
    missing = [
        p.name for p in parameters if p.default is p.empty and p.kind in _NAMED and p.name not in names
    ]
    refused = [] if any(p.kind is p.VAR_KEYWORD for p in parameters) else sorted(set(names) - by_keyword)
    if missing or refused:
        raise SerializationError(
            f"cannot encode dataclass {path!r}: its __init__ does not take exactly its fields "
            f"(it also needs {missing}, or refuses {refused}; an InitVar without a default?); "
            "register() a codec for it"
        )
    return names


def _model_encoder(cls: type) -> Encoder:
    path = _class_path(cls)

    def encode(model: Any) -> dict[str, Any]:
        try:
            text = model.model_dump_json(by_alias=True, round_trip=True)
        except Exception as e:
            raise SerializationError(f"cannot encode pydantic model {path!r}: {e}") from e
        return {TAG: "pydantic", "cls": path, "v": text}

    return encode


# -- registered codecs ------------------------------------------------------------------------------

#: name -> (class, decode) for every codec registered in this process.
_REGISTERED: dict[str, tuple[type, Callable[[Any], Any]]] = {}


def register(
    cls: type[T], encode: Callable[[T], Any], decode: Callable[[Any], T], *, name: str | None = None
) -> None:
    """Carry instances of exactly ``cls`` as ``encode(value)``, rebuilt with ``decode`` by the receiver.

    ``encode`` must be deterministic (equal values give equal output: sort what has no order, such as a
    set's items) and return a value this codec carries — JSON types, or any type listed in
    :mod:`aqueue.serialization`, nested as deep as you like; it is encoded in turn. ``decode`` gets that
    value back, rebuilt, and must return an equal ``cls`` instance: ``decode(encode(x)) == x``.

    The payload names the codec by ``name`` (default ``module:qualname`` of ``cls``; give one that stays
    put if the class may move, and one for a class defined inside a function), so every process that
    decodes such values (workers, and clients reading results) must make the same call, typically in
    the module that defines ``cls``. Only ``cls`` itself is handled: a subclass needs its own codec, so
    that it comes back as itself. Registering replaces an earlier codec for ``cls``; it may override
    how an enum, a dataclass or a pydantic model is carried, not a type the codec carries natively.
    """
    if not isinstance(cls, type):
        raise TypeError(f"register() takes a class, not {cls!r}")
    if cls in _NATIVE or issubclass(cls, BaseException):
        raise ValueError(f"{cls.__qualname__} is carried by aqueue's codec itself; it cannot be registered")
    if not (callable(encode) and callable(decode)):
        raise TypeError("register() needs callable encode and decode")
    tag = f"{cls.__module__}:{cls.__qualname__}" if name is None else name
    if not isinstance(tag, str) or not tag:
        raise ValueError(f"a codec name must be a non-empty string, not {tag!r}")
    taken = _REGISTERED.get(tag)
    if taken is not None and not _same_class(taken[0], cls):
        raise ValueError(f"the codec name {tag!r} is taken by {taken[0].__qualname__}; pass another name=")
    for other, (registered, _) in list(_REGISTERED.items()):
        if registered is cls:
            del _REGISTERED[other]
    _REGISTERED[tag] = (cls, decode)

    def pack_registered(value: Any) -> dict[str, Any]:
        return {TAG: "custom", "name": tag, "v": pack(encode(value))}

    _ENCODERS[cls] = pack_registered


def _same_class(a: type, b: type) -> bool:
    """Return whether ``a`` and ``b`` are one class, or it defined again (a reloaded module)."""
    return (a.__module__, a.__qualname__) == (b.__module__, b.__qualname__)


# -- decoding -------------------------------------------------------------------------------------


def _exception_class(module: str, qualname: str) -> type[BaseException] | None:
    if not module:
        return None
    try:
        obj: Any = sys.modules.get(module) or importlib.import_module(module)
        obj = _attribute(obj, qualname)
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


def _is_enum(cls: type) -> bool:
    return issubclass(cls, Enum)


#: The kinds of class a payload may name, and how to tell one: nothing else is ever looked up.
_KINDS: dict[str, tuple[str, Callable[[type], bool]]] = {
    "dataclass": ("a dataclass", dataclasses.is_dataclass),
    "enum": ("an enum", _is_enum),
    "pydantic": ("a pydantic model", _is_model),
}
#: Classes found by (kind, path), only once they passed their kind's check.
_FOUND: dict[tuple[str, str], type] = {}


def _find(kind: str, path: Any) -> type:
    """Return the class of ``kind`` at ``path`` (``module:qualname``); raise DeserializationError if none."""
    if type(path) is not str or path.count(":") != 1:
        raise DeserializationError(f"malformed {kind} value: {path!r} is not a 'module:qualname' class path")
    found = _FOUND.get((kind, path))
    if found is not None:
        return found
    obj = _import(path)
    what, check = _KINDS[kind]
    if not (isinstance(obj, type) and check(obj)):
        raise DeserializationError(
            f"refusing to rebuild {path!r}: it is not {what} (a payload may name only dataclasses, "
            "pydantic models and enums, and nothing is called otherwise)"
        )
    _FOUND[kind, path] = obj
    return obj


def _import(path: str) -> Any:
    module_name, _, qualname = path.partition(":")
    try:
        module = sys.modules.get(module_name) or importlib.import_module(module_name)
    except Exception as e:
        raise DeserializationError(
            f"cannot rebuild {path!r}: importing {module_name!r} failed: {type(e).__name__}: {e}"
        ) from e
    try:
        return _attribute(module, qualname)
    except AttributeError as e:
        hint = " (a class in the producer's __main__ script is not in another process's)"
        raise DeserializationError(
            f"cannot rebuild {path!r}: module {module_name!r} has no {qualname!r}"
            f"{hint if module_name == '__main__' else ''}"
        ) from e


def _unpack_dataclass(data: dict[str, Any]) -> Any:
    cls = _find("dataclass", data.get("cls"))
    fields = data.get("v")
    if type(fields) is not dict:
        raise DeserializationError(f"malformed dataclass value for {data.get('cls')!r}: no field mapping")
    kwargs = {name: unpack(value) for name, value in fields.items()}
    try:
        return cls(**kwargs)
    except Exception as e:
        raise DeserializationError(
            f"cannot rebuild dataclass {data['cls']!r} from its fields: {type(e).__name__}: {e}"
        ) from e


def _unpack_enum(data: dict[str, Any]) -> Enum:
    cls = _find("enum", data.get("cls"))
    value = unpack(data.get("v"))
    try:
        member: Enum = cls(value)
    except ValueError as e:
        raise DeserializationError(
            f"enum {data['cls']!r} has no member with value {value!r} "
            f"(it has {', '.join(m.name for m in cls) or 'none'})"  # type: ignore[attr-defined]
        ) from e
    return member


def _unpack_model(data: dict[str, Any]) -> Any:
    cls = _find("pydantic", data.get("cls"))
    text = data.get("v")
    if type(text) is not str:
        raise DeserializationError(f"malformed pydantic value for {data.get('cls')!r}: no JSON text")
    try:
        return cls.model_validate_json(text)  # type: ignore[attr-defined]
    except Exception as e:
        raise DeserializationError(
            f"cannot rebuild pydantic model {data['cls']!r}: {type(e).__name__}: {e}"
        ) from e


def _unpack_registered(data: dict[str, Any]) -> Any:
    name = data.get("name")
    entry = _REGISTERED.get(name) if type(name) is str else None
    if entry is None:
        raise DeserializationError(
            f"no codec is registered as {name!r} in this process: call aqueue.serialization.register() "
            "for that class here too (in the module that defines it, or one the worker imports)"
        )
    value = unpack(data.get("v"))
    try:
        return entry[1](value)
    except Exception as e:
        raise DeserializationError(
            f"the codec registered as {name!r} ({entry[0].__qualname__}) cannot decode its value: "
            f"{type(e).__name__}: {e}"
        ) from e


#: Tags whose value is all in ``"v"``.
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
    "path": Path,
    "pureposixpath": PurePosixPath,
    "purewindowspath": PureWindowsPath,
}
#: Tags that need more than ``"v"`` (a class, a codec name).
_OBJECT_DECODERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "exc": _unpack_exception,
    "enum": _unpack_enum,
    "dataclass": _unpack_dataclass,
    "pydantic": _unpack_model,
    "custom": _unpack_registered,
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
    decoder = _DECODERS.get(tag)
    if decoder is not None:
        return decoder(value["v"])
    rebuild = _OBJECT_DECODERS.get(tag)
    if rebuild is None:
        raise DeserializationError(f"unknown type tag {tag!r} in payload")
    return rebuild(value)


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
    except RecursionError as e:
        raise SerializationError(
            "cannot encode value: it is nested too deeply (does it contain itself?)"
        ) from e
    except (TypeError, ValueError, orjson.JSONEncodeError) as e:
        raise SerializationError(f"cannot encode value: {e}") from e


def job_deserializer(data: bytes) -> Any:
    """Decode bytes written by :func:`job_serializer`; arq's ``job_deserializer``."""
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise DeserializationError(f"payload is not valid JSON ({e}); is it from another serializer?") from e
    if _TAG_BYTES not in data:
        return raw
    try:
        return unpack(raw)
    except Exception as e:
        raise DeserializationError(_decoding_failure(raw, e)) from e


def _decoding_failure(raw: Any, error: Exception) -> str:
    """Say why a tagged payload cannot be decoded, and whose it is when it is a job or a result."""
    reason = str(error) if isinstance(error, DeserializationError) else f"{type(error).__name__}: {error}"
    if not isinstance(error, DeserializationError):
        reason = f"malformed tagged value ({reason})"
    task = raw.get("f") if isinstance(raw, dict) else None
    return f"task {task!r}: {reason}" if isinstance(task, str) else reason


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
