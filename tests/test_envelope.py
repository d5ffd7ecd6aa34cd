"""The one envelope builder: plain jobs and workflow node templates come out of the same function."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aqueue._envelope import JobEnvelope, encode_job, encode_job_template
from aqueue.serialization import PickleSerializer, job_deserializer, job_serializer

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)


@given(
    args=st.lists(json_values, max_size=3),
    kwargs=st.dictionaries(st.text(min_size=1, max_size=4), json_values, max_size=2),
    node_input=json_values,
    takes_input=st.booleans(),
    mapped=st.booleans(),
)
def test_a_spliced_template_is_the_envelope_encode_job_writes(
    args: list[Any], kwargs: dict[str, Any], node_input: Any, takes_input: bool, mapped: bool
) -> None:
    extra = {"wf": 1, "m": "map"} if mapped else {"wf": 1}
    pre, post = encode_job_template(job_serializer, "t", args, kwargs, takes_input=takes_input, extra=extra)
    spliced = pre + (orjson.dumps(node_input) if takes_input else b"") + post + b"1234}"
    call_args = [node_input, *args] if takes_input else args
    direct = encode_job(job_serializer, "t", call_args, kwargs, job_try=None, enqueue_ms=1234, extra=extra)
    assert job_deserializer(spliced) == job_deserializer(direct)
    envelope = JobEnvelope.decode(job_deserializer(spliced))
    assert (envelope.name, list(envelope.args), envelope.enqueue_ms) == ("t", call_args, 1234)
    assert dict(envelope.extra) == extra


def test_a_template_needs_a_json_serializer() -> None:
    with pytest.raises(TypeError, match="JSON job serializer"):
        encode_job_template(PickleSerializer(b"k" * 32).dumps, "t", [], {}, takes_input=True)
