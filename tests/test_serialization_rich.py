"""Rich arguments and results: enums, dataclasses, pydantic models, paths and registered codecs."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import orjson
import pytest
from arq.connections import RedisSettings, create_pool
from hypothesis import given, settings
from hypothesis import strategies as st

import aqueue
from aqueue import Client, job_deserializer, job_serializer
from aqueue import serialization as ser
from aqueue._envelope import encode_job
from aqueue.errors import DeserializationError, SerializationError
from aqueue.serialization import plain_call, register
from bench import codec
from tests import rich_types as rt
from tests.conftest import ROOT, run_cli
from tests.rich_models import VALIDATED, Address, Loose, Positive, Strict, User
from tests.support import eventually
from tests.test_interop import plain_arq_worker

WHEN = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)

ROUND_TRIP = [
    rt.Colour.RED,
    rt.Level.HIGH,
    rt.Mode.FAST,
    rt.Perm.R,
    rt.Perm.R | rt.Perm.X,
    rt.Bits.A | rt.Bits.B,
    rt.Planet.MARS,
    Path("/tmp/some dir/file.txt"),
    PurePosixPath("a/b"),
    PureWindowsPath(r"C:\Users\x"),
    rt.Point(1, 2),
    rt.order(3),
    rt.Options(retries=3, extra={rt.Colour.RED: (1, 2)}),
    rt.Scaled(4),
    rt.Tree("root", [rt.Tree("leaf")]),
    rt.Money(Decimal("1.50"), "EUR"),
    {rt.Colour.GREEN: [rt.Point(0, 1)], "p": (PurePosixPath("/x"), rt.Mode.SAFE)},
    User(name="ada", created=WHEN, colour=rt.Colour.RED, tags={"x"}, home=Address(city="c", zipCode="1")),
    User(name="bob", created=WHEN, colour=rt.Colour.GREEN, spot=rt.Point(3, 4)),
    Strict(when=WHEN, colour=rt.Colour.GREEN, pair=(1, "a")),
]


def round_trip(value: Any) -> Any:
    return job_deserializer(job_serializer(value))


@pytest.mark.parametrize("value", ROUND_TRIP, ids=repr)
def test_rich_values_round_trip_as_their_own_type(value: Any) -> None:
    back = round_trip(value)
    assert back == value
    assert type(back) is type(value)


def test_nested_rich_fields_keep_their_types() -> None:
    back = round_trip(rt.order(2))
    assert type(back.items[0]) is rt.Point and type(back.items) is tuple
    assert type(back.colour) is rt.Colour and type(back.where) is PurePosixPath
    assert type(back.tags) is frozenset and back.price == Decimal("9.90")


def test_enums_are_enums_again_not_their_base_values() -> None:
    back = round_trip([rt.Mode.FAST, rt.Level.LOW])
    assert back[0] is rt.Mode.FAST and back[1] is rt.Level.LOW


def test_path_comes_back_as_this_processs_concrete_path() -> None:
    back = round_trip(Path("/etc/hosts"))
    assert type(back) is type(Path()) and back == Path("/etc/hosts")


def test_init_false_fields_are_set_again_by_post_init_not_carried() -> None:
    order = rt.order(2)
    order.count = 99  # a derived field changed after construction
    data = job_serializer(order)
    assert b'"count"' not in data
    assert round_trip(order).count == 2


def test_initvar_with_a_default_gets_its_default_again() -> None:
    back = round_trip(rt.Scaled(4, factor=3))
    assert back.base == 4 and back.value == 40  # factor 3 is not a field: the default 10 applies


def test_initvar_without_a_default_is_refused_at_encode_time() -> None:
    with pytest.raises(SerializationError, match=r"NeedsSeed.*\['seed'\]"):
        job_serializer(rt.NeedsSeed(seed=1))


def test_classes_defined_in_a_function_are_refused_at_encode_time() -> None:
    @dataclass
    class Local:
        x: int

    class Shade(Enum):
        DARK = 1

    for value in (Local(1), Shade.DARK):
        with pytest.raises(SerializationError, match="defined inside a function"):
            job_serializer([value])


def test_a_value_that_contains_itself_is_refused() -> None:
    tree = rt.Tree("loop")
    tree.children.append(tree)
    with pytest.raises(SerializationError, match="nested too deeply"):
        job_serializer(tree)


def test_plain_objects_are_still_refused_with_their_type_named() -> None:
    class Thing:
        pass

    with pytest.raises(SerializationError, match=r"Thing'.*register\(\)"):
        job_serializer({"x": Thing()})


def test_payload_keeps_a_readable_layout() -> None:
    data = orjson.loads(job_serializer([rt.Point(1, 2), rt.Colour.RED, rt.Money(Decimal(2), "EUR")]))
    assert data[0] == {"__aq__": "dataclass", "cls": "tests.rich_types:Point", "v": {"x": 1, "y": 2}}
    assert data[1] == {"__aq__": "enum", "cls": "tests.rich_types:Colour", "v": "red"}
    assert data[2]["__aq__"] == "custom" and data[2]["name"] == "tests.money"


def test_encoding_is_deterministic() -> None:
    assert job_serializer(rt.order(3)) == job_serializer(rt.order(3))


rich_keys = (
    st.sampled_from([*rt.Colour, *rt.Level, *rt.Mode, *rt.Perm, rt.Perm.R | rt.Perm.W, *rt.Planet])
    | st.builds(rt.Point, st.integers(), st.integers())
    | st.builds(PurePosixPath, st.text(max_size=8))
    | st.builds(rt.Money, st.decimals(allow_nan=False, allow_infinity=False), st.text(max_size=3))
    | st.integers()
    | st.text(max_size=5)
    | st.datetimes()
)
rich_values = st.recursive(
    rich_keys,
    lambda children: (
        st.lists(children, max_size=3)
        | st.tuples(children, children)
        | st.dictionaries(rich_keys, children, max_size=2)
        | st.builds(
            rt.Tree, st.text(max_size=3), st.lists(st.builds(rt.Tree, st.text(max_size=3)), max_size=2)
        )
        | st.builds(rt.Options, retries=st.integers(), extra=st.dictionaries(rich_keys, children, max_size=2))
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(rich_values)
def test_rich_round_trip_property(value: Any) -> None:
    assert round_trip(value) == value


# -- what the decoding process cannot rebuild ---------------------------------------------------


def tagged(value: Any) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(job_serializer(value))
    return data


def decode(data: Any) -> Any:
    return job_deserializer(orjson.dumps(data))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"cls": "no_such_module.models:Point"}, r"importing 'no_such_module.models' failed"),
        ({"cls": "tests.rich_types:Gone"}, r"module 'tests.rich_types' has no 'Gone'"),
        ({"cls": "__main__:Point"}, r"producer's __main__"),
        ({"cls": "tests.rich_types:Colour"}, r"'tests.rich_types:Colour': it is not a dataclass"),
        ({"cls": "tests.rich_types:ORIGIN"}, r"'tests.rich_types:ORIGIN': it is not a dataclass"),
        ({"cls": "Point"}, r"not a 'module:qualname' class path"),
        ({"v": {"x": 1, "y": 2, "z": 3}}, r"rebuild dataclass 'tests.rich_types:Point'.*'z'"),
        ({"v": {"x": 1}}, r"rebuild dataclass 'tests.rich_types:Point'.*'y'"),
        ({"v": [1, 2]}, r"no field mapping"),
    ],
)
def test_a_dataclass_that_cannot_be_rebuilt_names_the_class_and_why(
    change: dict[str, Any], message: str
) -> None:
    with pytest.raises(DeserializationError, match=message):
        decode(tagged(rt.Point(1, 2)) | change)


def test_a_refusing_post_init_fails_decoding_with_its_reason() -> None:
    data = tagged(rt.Checked(5)) | {"v": {"amount": -1}}
    with pytest.raises(DeserializationError, match=r"Checked.*ValueError: amount must not be negative"):
        decode(data)


def test_an_enum_member_that_no_longer_exists_names_the_enum_and_value() -> None:
    data = tagged(rt.Colour.RED) | {"v": "purple"}
    with pytest.raises(
        DeserializationError, match=r"'tests.rich_types:Colour' has no member with value 'purple'"
    ):
        decode(data)


def test_a_pydantic_validator_that_refuses_fails_decoding_with_its_reason() -> None:
    data = tagged(Positive(amount=3)) | {"v": '{"amount": -3}'}
    with pytest.raises(
        DeserializationError, match=r"(?s)'tests.rich_models:Positive'.*amount must be positive"
    ):
        decode(data)


def test_a_codec_not_registered_here_is_named() -> None:
    data = tagged(rt.Money(Decimal(1), "EUR")) | {"name": "elsewhere.money"}
    with pytest.raises(DeserializationError, match=r"no codec is registered as 'elsewhere.money'"):
        decode(data)


def test_a_codec_whose_decode_fails_is_named() -> None:
    data = tagged(rt.Money(Decimal(1), "EUR")) | {"v": {"__aq__": "tuple", "v": [1, 2, 3]}}
    with pytest.raises(DeserializationError, match=r"'tests.money' \(Money\) cannot decode its value"):
        decode(data)


def test_a_job_envelope_that_cannot_be_decoded_names_its_task() -> None:
    envelope = {"t": 1, "f": "ship", "a": [tagged(rt.Point(1, 2)) | {"cls": "gone:Point"}], "k": {}, "et": 1}
    with pytest.raises(DeserializationError, match=r"^task 'ship': cannot rebuild 'gone:Point'"):
        decode(envelope)


def test_a_malformed_tagged_value_is_a_deserialization_error() -> None:
    with pytest.raises(DeserializationError, match="malformed tagged value"):
        decode({"__aq__": "pureposixpath", "v": 12})


# -- security: a payload may name only classes of the kind its tag says --------------------------


@pytest.mark.parametrize(
    "payload",
    [
        {"__aq__": "dataclass", "cls": "os:system", "v": {"command": "touch {marker}"}},
        {"__aq__": "enum", "cls": "os:system", "v": "touch {marker}"},
        {"__aq__": "pydantic", "cls": "os:system", "v": "touch {marker}"},
        {"__aq__": "dataclass", "cls": "subprocess:getoutput", "v": {"cmd": "touch {marker}"}},
        {"__aq__": "dataclass", "cls": "subprocess:Popen", "v": {"args": ["touch", "{marker}"]}},
    ],
    ids=lambda p: f"{p['__aq__']}-{p['cls']}",
)
def test_a_payload_naming_a_callable_is_refused_without_calling_it(
    payload: dict[str, Any], tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    data = orjson.dumps(payload).replace(b"{marker}", str(marker).encode())
    with pytest.raises(DeserializationError, match=r"refusing to rebuild '(os|subprocess):\w+': it is not"):
        job_deserializer(data)
    assert not marker.exists()


@pytest.mark.parametrize("kind", ["dataclass", "enum", "pydantic"])
def test_a_payload_naming_a_plain_function_never_calls_it(kind: str) -> None:
    rt.CALLS.clear()
    with pytest.raises(DeserializationError, match="refusing to rebuild 'tests.rich_types:spy'"):
        decode({"__aq__": kind, "cls": "tests.rich_types:spy", "v": {"a": 1}})
    assert rt.CALLS == []


def test_a_registered_codec_name_is_never_imported() -> None:
    # tabnanny: a stdlib module no dependency imports (fastapi, in the dev extra, imports colorsys)
    assert "tabnanny" not in sys.modules
    with pytest.raises(DeserializationError, match="no codec is registered as 'tabnanny:check'"):
        decode({"__aq__": "custom", "name": "tabnanny:check", "v": [1, 2, 3]})
    assert "tabnanny" not in sys.modules


# -- pydantic -------------------------------------------------------------------------------------


def test_pydantic_validators_run_again_on_the_worker() -> None:
    user = User(name="  ada ", created=WHEN, colour=rt.Colour.RED)
    VALIDATED.clear()
    back = round_trip(user)
    assert back.name == "ada" and VALIDATED == ["ada"]


def test_a_strict_pydantic_model_accepts_its_own_json() -> None:
    value = Strict(when=WHEN, colour=rt.Colour.RED, pair=(2, "b"))
    back = round_trip(value)
    assert back == value and back.colour is rt.Colour.RED and back.pair == (2, "b")


def test_aliased_fields_round_trip() -> None:
    assert round_trip(Address(city="x", zipCode="75001")).zip_code == "75001"


def test_pydantic_any_fields_follow_pydantics_json_round_trip() -> None:
    assert round_trip(Loose(data={"when": WHEN})).data == {"when": "2026-03-04T05:06:07Z"}


# -- register ------------------------------------------------------------------------------------


class Celsius:
    def __init__(self, degrees: float) -> None:
        self.degrees = degrees

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.degrees == self.degrees  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self.degrees)


class Kelvin(Celsius):
    pass


def test_registered_codec_output_is_encoded_in_turn() -> None:
    register(Celsius, lambda c: {"deg": c.degrees, "at": WHEN}, lambda v: Celsius(v["deg"]))
    data = tagged(Celsius(21.5))
    assert data == {
        "__aq__": "custom",
        "name": "tests.test_serialization_rich:Celsius",
        "v": {"deg": 21.5, "at": {"__aq__": "datetime", "v": WHEN.isoformat()}},
    }
    assert round_trip([Celsius(21.5)]) == [Celsius(21.5)]


def test_a_subclass_of_a_registered_class_needs_its_own_codec() -> None:
    register(Celsius, lambda c: c.degrees, Celsius)
    with pytest.raises(SerializationError, match="'Kelvin'"):
        job_serializer(Kelvin(3.0))


def test_registering_again_replaces_the_codec() -> None:
    register(Celsius, lambda c: c.degrees, Celsius, name="tests.celsius.v1")
    register(Celsius, lambda c: [c.degrees], lambda v: Celsius(v[0]), name="tests.celsius.v2")
    assert tagged(Celsius(1.0))["name"] == "tests.celsius.v2"
    with pytest.raises(DeserializationError, match="'tests.celsius.v1'"):
        decode({"__aq__": "custom", "name": "tests.celsius.v1", "v": 1.0})


def test_a_codec_may_replace_how_a_dataclass_is_carried() -> None:
    @dataclass(frozen=True)
    class Span:  # defined in a function: only a named codec can carry it
        start: int
        end: int

    register(Span, lambda s: [s.start, s.end], lambda v: Span(*v), name="tests.span")
    assert tagged(Span(1, 4)) == {"__aq__": "custom", "name": "tests.span", "v": [1, 4]}
    assert round_trip(Span(1, 4)) == Span(1, 4)


@pytest.mark.parametrize(
    ("cls", "encode", "name", "error", "message"),
    [
        (datetime, str, None, ValueError, "carried by aqueue's codec itself"),
        (PurePosixPath, str, None, ValueError, "carried by aqueue's codec itself"),
        (KeyError, str, None, ValueError, "carried by aqueue's codec itself"),
        (rt.Point(1, 2), str, None, TypeError, "takes a class"),
        (Celsius, None, None, TypeError, "callable encode and decode"),
        (Celsius, str, "", ValueError, "non-empty string"),
        (Kelvin, str, "tests.money", ValueError, "'tests.money' is taken by Money"),
    ],
)
def test_register_refuses_what_it_cannot_honour(
    cls: Any, encode: Any, name: str | None, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        register(cls, encode, str, name=name)


# -- the plain-call fast path ---------------------------------------------------------------------


def test_rich_arguments_are_not_plain_calls() -> None:
    assert plain_call((1, "a", None), {"x": 2.5})
    for value in (rt.Level.LOW, rt.Mode.FAST, rt.Point(1, 2), PurePosixPath("a")):
        assert not plain_call((value,), {})
        assert not plain_call((), {"v": value})


def test_a_plain_call_is_encoded_without_the_tag_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_walk(value: Any) -> Any:
        raise AssertionError("pack() was called for a plain call")

    expected = job_serializer({"t": None, "f": "t", "a": [1, "x"], "k": {"n": None}, "et": 7})
    monkeypatch.setattr(ser, "pack", no_walk)
    assert encode_job(job_serializer, "t", (1, "x"), {"n": None}, job_try=None, enqueue_ms=7) == expected
    with pytest.raises(SerializationError, match=r"pack\(\) was called"):
        encode_job(job_serializer, "t", (rt.Point(1, 2),), {}, job_try=None, enqueue_ms=7)


def test_a_rich_envelope_keeps_arqs_layout() -> None:
    data = encode_job(
        job_serializer, "ship", (rt.order(1),), {"mode": rt.Mode.FAST}, job_try=None, enqueue_ms=5
    )
    envelope = orjson.loads(data)
    assert set(envelope) == {"t", "f", "a", "k", "et"} and envelope["f"] == "ship"
    assert envelope["a"][0]["cls"] == "tests.rich_types:Order"
    assert job_deserializer(data)["k"] == {"mode": rt.Mode.FAST}


# -- through a worker ------------------------------------------------------------------------------


async def ship(ctx: dict[str, Any], order: rt.Order, user: User, *, mode: rt.Mode, money: rt.Money) -> Any:
    assert type(order) is rt.Order and type(user) is User and mode is rt.Mode.FAST
    return {
        "order": order,
        "points": [p for p in order.items if p.x > 0],
        "user": user.model_copy(update={"name": user.name.upper()}),
        "total": rt.Money(money.amount * order.count, money.currency),
        "where": order.where / "label.pdf",
        "perm": rt.Perm.R | rt.Perm.W,
    }


async def echo(ctx: dict[str, Any], value: Any) -> Any:
    return value


async def test_rich_arguments_and_results_round_trip_through_a_worker(
    client: Client, run_worker: Any
) -> None:
    order = rt.order(3)
    user = User(name="ada", created=WHEN, colour=rt.Colour.RED, home=Address(city="c", zipCode="9"))
    async with run_worker([ship]):
        job = await client.enqueue(
            "ship", order, user, mode=rt.Mode.FAST, money=rt.Money(Decimal("2.5"), "EUR")
        )
        assert job is not None
        result = await job.result(timeout=10)
    assert result["order"] == order and type(result["order"]) is rt.Order
    assert result["points"] == [rt.Point(1, -1), rt.Point(2, -2)]
    assert (
        type(result["user"]) is User and result["user"].name == "ADA" and result["user"].home.zip_code == "9"
    )
    assert result["total"] == rt.Money(Decimal("7.5"), "EUR")
    assert result["where"] == PurePosixPath("/srv/orders/3/label.pdf")
    assert result["perm"] is rt.Perm.R | rt.Perm.W


def rewriting(old: bytes, new: bytes) -> Callable[[Any], bytes]:
    """A job serializer that edits what the default one writes: a producer with other code."""

    def encode(value: Any) -> bytes:
        return job_serializer(value).replace(old, new)

    return encode


@pytest.mark.parametrize(
    ("value", "old", "new", "message"),
    [
        (rt.Point(1, 2), b"tests.rich_types:Point", b"gone_app.models:Point", r"importing 'gone_app.models'"),
        (rt.Colour.RED, b'"v":"red"', b'"v":"crimson"', r"Colour' has no member with value 'crimson'"),
        (rt.Checked(1), b'"amount":1', b'"amount":-1', r"Checked' from its fields.*must not be negative"),
        (rt.Point(1, 2), b"tests.rich_types:Point", b"os:system", r"refusing to rebuild 'os:system'"),
    ],
    ids=["unimportable", "gone-member", "post-init-refuses", "hostile"],
)
async def test_an_argument_the_worker_cannot_rebuild_fails_that_attempt_and_the_worker_goes_on(
    redis_url: str, client: Client, run_worker: Any, value: Any, old: bytes, new: bytes, message: str
) -> None:
    async with Client(redis_url, job_serializer=rewriting(old, new)) as other:
        sent = await other.enqueue("echo", value)
    assert sent is not None
    bad = client.job(sent.job_id)
    async with run_worker([echo]) as worker:
        with pytest.raises(DeserializationError, match=r"task 'echo': .*" + message):
            await bad.result(timeout=10)
        good = await client.enqueue("echo", value)
        assert good is not None
        assert await good.result(timeout=10) == value
        # the worker counts an outcome once its finish returns, which may be after the result is seen
        counted = await eventually(lambda: worker.jobs_complete == 1, "the good job counted")
        assert counted and worker.jobs_failed == 1
    info = await bad.result_info()
    assert info is not None and not info.success
    assert info.job_try == 1  # failed at once: another try would meet the same code


async def test_a_worker_process_imports_the_classes_it_is_sent(client: Client, redis_url: str) -> None:
    """The worker's own modules import no rich type: it finds each one by its import path."""
    values = [
        rt.order(2),
        rt.Colour.GREEN,
        rt.Perm.X,
        PureWindowsPath("C:/x"),
        Strict(when=WHEN, colour=rt.Colour.RED, pair=(1, "z")),
    ]
    job = await client.enqueue("describe", *values)
    assert job is not None
    done = await asyncio.to_thread(
        run_cli, "worker", "tests.rich_tasks.WorkerSettings", redis_url=redis_url, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = await job.result(timeout=5)
    assert [name for name, _ in result] == [
        "tests.rich_types:Order",
        "tests.rich_types:Colour",
        "tests.rich_types:Perm",
        "pathlib:PureWindowsPath",
        "tests.rich_models:Strict",
    ]
    assert [v for _, v in result] == values


# -- plain arq on the same Redis -----------------------------------------------------------------


async def test_rich_arguments_flow_from_aqueue_to_a_plain_arq_worker(client: Client, redis_url: str) -> None:
    job = await client.enqueue("echo", rt.order(2))
    assert job is not None
    worker = plain_arq_worker(redis_url, echo)
    try:
        await worker.async_run()
    finally:
        await worker.close()
    assert worker.jobs_complete == 1
    back = await job.result(timeout=5)
    assert back == rt.order(2) and type(back.items[0]) is rt.Point


async def test_rich_arguments_flow_from_a_plain_arq_producer_to_aqueue(
    redis_url: str, run_worker: Any
) -> None:
    pool = await create_pool(
        RedisSettings.from_dsn(redis_url),
        job_serializer=aqueue.job_serializer,
        job_deserializer=aqueue.job_deserializer,
    )
    try:
        arq_job = await pool.enqueue_job("echo", {"mode": rt.Mode.SAFE, "at": PurePosixPath("/a")})
        assert arq_job is not None
        async with run_worker([echo]):
            back = await arq_job.result(timeout=10, poll_delay=0.05)
    finally:
        await pool.aclose()
    assert back == {"mode": rt.Mode.SAFE, "at": PurePosixPath("/a")} and back["mode"] is rt.Mode.SAFE


# -- without pydantic ------------------------------------------------------------------------------

NO_PYDANTIC = textwrap.dedent(
    """
    import importlib.abc, json, sys

    tried = []

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "pydantic" or name.startswith("pydantic."):
                tried.append(name)
                raise ImportError(f"pydantic is blocked in this test ({name})")
            return None

    sys.meta_path.insert(0, Block())
    import aqueue
    from aqueue import job_deserializer, job_serializer
    from aqueue.errors import DeserializationError, SerializationError
    from tests import rich_types as rt

    report = {"tried_on_import": list(tried)}
    value = [rt.order(2), rt.Colour.RED, rt.Perm.R | rt.Perm.W, rt.Money(rt.Decimal(1), "EUR")]
    back = job_deserializer(job_serializer(value))
    report["round_trip"] = back == value and type(back[0]) is rt.Order
    report["tried_after_round_trip"] = list(tried)
    try:
        job_serializer(object())
    except SerializationError as e:
        report["object"] = str(e)
    for path in ("tests.rich_models:User", "tests.rich_types:Point"):
        payload = json.dumps({"__aq__": "pydantic", "cls": path, "v": "{}"}).encode()
        try:
            job_deserializer(payload)
        except DeserializationError as e:
            report[path] = str(e)
    print(json.dumps(report))
    """
)


def test_without_pydantic_everything_else_works_and_models_fail_clearly() -> None:
    done = subprocess.run(
        [sys.executable, "-c", NO_PYDANTIC], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["tried_on_import"] == [] and report["tried_after_round_trip"] == []
    assert report["round_trip"] is True
    assert "'object'" in report["object"]
    assert "importing 'tests.rich_models' failed" in report["tests.rich_models:User"]
    assert "pydantic is blocked" in report["tests.rich_models:User"]
    assert "it is not a pydantic model" in report["tests.rich_types:Point"]


def test_the_codec_micro_benchmark_measures_real_round_trips() -> None:
    rows = codec.measure(n=20, repeats=1)
    assert [r.case for r in rows if r.plain] == ["plain call (fast path)"]
    assert any(r.case.startswith("pydantic") for r in rows)
    assert all(r.encode_us > 0 and r.decode_us > 0 and r.size > 0 for r in rows)


def test_the_readme_example_runs_as_written(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Arguments and results\n", 1)[1]
    example = section.split("```python\n", 1)[1].split("```", 1)[0]
    script = tmp_path / "example.py"
    script.write_text(example + "\nprint('round trip ok')\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "round trip ok\n"
