"""arq's envelopes: built in one place (:func:`encode_job`), decoded once per job (:class:`JobEnvelope`).

A job: ``{"t": try, "f": name, "a": args, "k": kwargs, "et": enqueue ms}``, plus ``"o"`` (per-job
overrides of the task's ``timeout``, ``max_tries``, ``keep_result``); its result adds
``{"s": success, "r": value or exception, "st": start ms, "ft": finish ms, "q": queue, "id": job id}``.

Other keys ride along (plain arq ignores them) and belong to the extension that declares them in
``WorkerExtension.envelope_keys`` (``wf`` and ``m`` for workflows, ``cron`` for the scheduler); the
core carries them in :attr:`JobEnvelope.extra` and never reads them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple

import orjson

from aqueue.errors import DeserializationError, SerializationError
from aqueue.serialization import job_serializer, plain_call

#: The envelope keys the core reads; every other key is an extension's.
CORE_KEYS = frozenset({"t", "f", "a", "k", "et", "o"})
_SEQUENCES = (list, tuple)
_NO_OPTIONS: Mapping[str, Any] = MappingProxyType({})
_NO_EXTRA: Mapping[str, Any] = MappingProxyType({})


class JobEnvelope(NamedTuple):
    """A job's decoded envelope: the call, when it was enqueued, per-job overrides, extensions' fields.

    A NamedTuple (immutable, and cheap to build: one per job on the hot path).
    """

    name: str
    args: Sequence[Any]
    kwargs: dict[str, Any]
    enqueue_ms: int
    job_try: int | None = None
    options: Mapping[str, Any] = _NO_OPTIONS
    extra: Mapping[str, Any] = _NO_EXTRA

    @classmethod
    def decode(cls, data: Any) -> JobEnvelope:
        """Return the envelope in ``data`` (a decoded payload); raise DeserializationError if malformed."""
        if not isinstance(data, dict):
            raise DeserializationError(f"a job envelope must be a mapping, not {type(data).__name__}")
        name, args, kwargs = data.get("f"), data.get("a", ()), data.get("k") or {}
        options, enqueued, job_try = data.get("o") or _NO_OPTIONS, data.get("et"), data.get("t")
        # the common case in a few type checks (once per job, on the hot path); details only if it fails
        if not (
            type(name) is str
            and name
            and type(args) in _SEQUENCES
            and type(kwargs) is dict
            and (options is _NO_OPTIONS or type(options) is dict)
            and type(enqueued) is int
            and (job_try is None or type(job_try) is int)
        ):
            problem = _malformed(name, args, kwargs, options, (enqueued, job_try))
            if problem:
                raise DeserializationError(f"malformed job envelope: {problem}")
            enqueued = int(enqueued)  # type: ignore[arg-type]  # a float, checked by _malformed
        # arq's five keys are always written; only a longer envelope can carry extensions' fields
        extra = {k: v for k, v in data.items() if k not in CORE_KEYS} if len(data) > 5 else _NO_EXTRA
        return cls(name, args, kwargs, enqueued, job_try, options, extra)  # type: ignore[arg-type]


def _malformed(name: Any, args: Any, kwargs: Any, options: Any, numbers: tuple[Any, Any]) -> str:
    enqueued, job_try = numbers
    checks = (
        (isinstance(name, str) and name != "", f"the task name must be a non-empty string, not {name!r}"),
        (isinstance(args, list | tuple), f"args must be a list, not {type(args).__name__}"),
        (isinstance(kwargs, dict), f"kwargs must be a mapping, not {type(kwargs).__name__}"),
        (isinstance(options, dict), f"options must be a mapping, not {type(options).__name__}"),
        (_is_int(enqueued), f"the enqueue time must be a number, not {enqueued!r}"),
        (job_try is None or _is_int(job_try), f"the try must be a number, not {job_try!r}"),
    )
    return next((message for ok, message in checks if not ok), "")


def _is_int(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def encode_job(
    serializer: Callable[[Any], bytes],
    name: str,
    args: Sequence[Any],
    kwargs: dict[str, Any],
    *,
    job_try: int | None,
    enqueue_ms: int,
    extra: dict[str, Any] | None = None,
) -> bytes:
    """Encode a job envelope; raise SerializationError naming the task if an argument can't be encoded.

    The keys come in arq's order with extensions' fields before ``et``, which is always last (so that
    :func:`encode_job_template` can leave the enqueue time to be appended).
    """
    if not extra:
        envelope = {"t": job_try, "f": name, "a": list(args), "k": kwargs, "et": enqueue_ms}
        if serializer is job_serializer and plain_call(args, kwargs):
            return orjson.dumps(envelope)  # the same bytes job_serializer writes, without its walk
    else:
        envelope = {"t": job_try, "f": name, "a": list(args), "k": kwargs, **extra, "et": enqueue_ms}
    try:
        return serializer(envelope)
    except SerializationError as e:
        raise SerializationError(f"cannot enqueue {name!r}: {e}") from e
    except Exception as e:
        raise SerializationError(f"cannot enqueue {name!r}: {type(e).__name__}: {e}") from e


#: Stands for a workflow node's input (its parents' results) while its template is encoded.
_INPUT = "\x00aqueue-input\x00"


def encode_job_template(
    serializer: Callable[[Any], bytes],
    name: str,
    args: Sequence[Any],
    kwargs: dict[str, Any],
    *,
    takes_input: bool,
    extra: dict[str, Any] | None = None,
) -> tuple[bytes, bytes]:
    """Encode a job envelope, by :func:`encode_job`, as two fragments around a hole for an input.

    ``pre + input + post + enqueue_ms + b"}"`` is the job's payload, where ``input`` is a JSON value
    (prepended to ``args``) if ``takes_input``, else empty. The workflow scripts splice parents'
    results in this way. Needs a JSON serializer: raises TypeError for one that is not.
    """
    encoded = encode_job(serializer, name, [_INPUT, *args], kwargs, job_try=None, enqueue_ms=0, extra=extra)
    hole, tail = serializer([_INPUT])[1:-1], b'"et":0}'
    if not encoded.endswith(tail) or encoded.count(hole) != 1:
        raise TypeError("workflows need a JSON job serializer (the default); pickle cannot be spliced")
    pre, post = encoded[: -len(b"0}")].split(hole)
    if not takes_input:
        post = post.removeprefix(b",")
    return pre, post


def result_envelope(
    *,
    job_id: str,
    name: str,
    args: Sequence[Any],
    kwargs: dict[str, Any],
    job_try: int,
    enqueue_ms: int,
    success: bool,
    value: Any,
    start_ms: int,
    finish_ms: int,
    queue: str,
) -> dict[str, Any]:
    """Return arq's result envelope (encode it with the job serializer); a list or tuple of args as given."""
    return {
        "t": job_try,
        "f": name,
        "a": args if isinstance(args, list | tuple) else list(args),
        "k": kwargs,
        "et": enqueue_ms,
        "s": success,
        "r": value,
        "st": start_ms,
        "ft": finish_ms,
        "q": queue,
        "id": job_id,
    }


def encode_result(serializer: Callable[[Any], bytes], envelope: dict[str, Any]) -> bytes:
    """Encode a result envelope (:func:`result_envelope`) with ``serializer``.

    A plain one (JSON as it is: see :func:`~aqueue.serialization.plain_call`) under the default
    serializer skips its tag walk: the same bytes, once per job on the hot path.
    """
    args = envelope["a"]
    if (
        serializer is job_serializer
        and type(args) is list
        and plain_call(args, envelope["k"])
        and plain_call((envelope["r"],), {})
    ):
        return orjson.dumps(envelope)
    return serializer(envelope)
