from __future__ import annotations

import pickle
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aqueue import PickleSerializer, job_deserializer, job_serializer
from aqueue._envelope import encode_job
from aqueue.errors import DeserializationError, SerializationError, TaskError
from aqueue.serialization import plain_call

ROUND_TRIP = [
    None,
    True,
    1,
    -(2**62),
    1.5,
    "héllo",
    [1, [2]],
    {"a": {"b": 1}},
    (1, (2, 3)),
    [(1,), (2,)],
    {"t": (1, 2)},
    b"\x00\xff",
    bytearray(b"ab"),
    datetime(2026, 1, 2, 3, 4, 5, 6),
    datetime(2026, 1, 2, tzinfo=UTC),
    datetime(2026, 1, 2, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    date(2024, 2, 29),
    time(23, 59, 1),
    timedelta(days=-1, seconds=5, microseconds=7),
    UUID("12345678-1234-5678-1234-567812345678"),
    Decimal("1.10"),
    {1, 2},
    frozenset({"x"}),
    {1: "a", (1, 2): "b"},
    {"__aq__": "not a tag"},
    float("inf"),
]


@pytest.mark.parametrize("value", ROUND_TRIP, ids=repr)
def test_round_trip_keeps_value_and_type(value: object) -> None:
    back = job_deserializer(job_serializer(value))
    expected = bytes(value) if isinstance(value, bytearray) else value
    assert back == expected
    assert type(back) is type(expected)


def test_nan_round_trips() -> None:
    back = job_deserializer(job_serializer([float("nan")]))
    assert back[0] != back[0]


def test_subclasses_of_builtins_become_their_base() -> None:
    class Name(str):
        pass

    class Count(int):
        pass

    class Ratio(float):
        pass

    back = job_deserializer(job_serializer([Name("ada"), Count(3), Count(2**70), Ratio("inf")]))
    assert back == ["ada", 3, 2**70, float("inf")]
    assert [type(v) for v in back] == [str, int, int, float]


def test_unencodable_value_names_the_type() -> None:
    class Thing:
        pass

    with pytest.raises(SerializationError, match="Thing"):
        job_serializer({"x": [Thing()]})


def test_corrupt_bytes_raise_deserialization_error() -> None:
    with pytest.raises(DeserializationError, match="not valid JSON"):
        job_deserializer(b"\x80\x04garbage")
    with pytest.raises(DeserializationError, match="unknown type tag"):
        job_deserializer(b'{"__aq__": "martian", "v": 1}')


def test_importable_exception_is_rebuilt_with_traceback_note() -> None:
    try:
        raise KeyError("missing")
    except KeyError as e:
        data = job_serializer(e)
    back = job_deserializer(data)
    assert type(back) is KeyError
    assert back.args == ("missing",)
    assert "Traceback from the worker" in "".join(back.__notes__)
    assert "raise KeyError" in back.__aqueue_traceback__


def test_unimportable_exception_becomes_task_error() -> None:
    data = job_serializer({"r": ValueError("x")}).replace(b'"builtins"', b'"no_such_mod"')
    back = job_deserializer(data)["r"]
    assert isinstance(back, TaskError)
    assert back.type_name == "ValueError" and back.message == "x"


def test_exception_with_unbuildable_args_becomes_task_error() -> None:
    class NeedsTwo(Exception):
        def __init__(self, a: str, b: str) -> None:
            super().__init__(f"{a}-{b}")

    back = job_deserializer(job_serializer(NeedsTwo("p", "q")))
    assert isinstance(back, TaskError)
    assert back.type_name.endswith("NeedsTwo") and back.message == "p-q"


def test_pickle_is_signed() -> None:
    ser = PickleSerializer("0123456789abcdef-secret")
    assert ser.loads(ser.dumps({"x": uuid4()})).keys() == {"x"}
    forged = b"AQP1" + b"\0" * 32 + pickle.dumps({"evil": 1})
    with pytest.raises(DeserializationError, match="signature"):
        ser.loads(forged)
    with pytest.raises(ValueError):
        PickleSerializer("short")


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary()
    | st.datetimes()
    | st.uuids()
    | st.dates(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_round_trip_property(value: object) -> None:
    assert job_deserializer(job_serializer(value)) == value


@settings(max_examples=300, deadline=None)
@given(
    st.lists(json_values | st.floats(), max_size=4),
    st.dictionaries(st.text(max_size=8), json_values, max_size=3),
)
def test_job_envelope_fast_path_writes_what_the_full_encoder_writes(args: list[object], kwargs: dict) -> None:
    """encode_job skips pack() for plain calls: the bytes must be exactly job_serializer's."""
    fast = encode_job(job_serializer, "t", args, kwargs, job_try=None, enqueue_ms=7)
    full = job_serializer({"t": None, "f": "t", "a": list(args), "k": kwargs, "et": 7})
    assert fast == full


@pytest.mark.parametrize(
    ("args", "plain"),
    [
        ((1, "a", None, True, 1.5, -(2**63), 2**64 - 1), True),
        ((2**64,), False),
        ((float("nan"),), False),
        ((float("-inf"),), False),
        (((1,),), False),
        (([1],), False),
        ((b"x",), False),
    ],
    ids=repr,
)
def test_plain_call_accepts_only_values_json_carries_as_they_are(args: tuple, plain: bool) -> None:
    assert plain_call(args, {}) is plain


def test_plain_call_rejects_the_tag_key_in_kwargs() -> None:
    assert plain_call((), {"x": 1})
    assert not plain_call((), {"__aq__": 1})
