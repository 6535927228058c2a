"""The sidebar's comm, kernel side (issue 12, item 10): every message gets a reply, a
malformed one an error reply, and nothing the sidebar sent is echoed back unbounded."""

import json

import pytest

from notebook_ext import inspector


class FakeComm:
    def __init__(self):
        self.sent, self.msg_cb, self.close_cb = [], None, None

    def on_msg(self, cb):
        self.msg_cb = cb

    def on_close(self, cb):
        self.close_cb = cb

    def send(self, data):
        self.sent.append(json.loads(json.dumps(data)))  # what crosses the wire is JSON


def _open():
    comm = FakeComm()
    inspector.Inspector().on_open(comm, {"content": {"data": {"request": "list", "rid": "0"}}})
    assert comm.sent[-1]["kind"] == "list"
    return comm


@pytest.mark.parametrize("data", ["list", 7, None, [1, 2], True, 1.5, {"rid": "x"}], ids=repr)
def test_non_dict_or_incomplete_message_gets_an_error_reply(data):
    comm = _open()
    comm.msg_cb({"content": {"data": data}})  # must not raise
    reply = comm.sent[-1]
    assert reply["kind"] == "error" and reply["error"], reply
    assert len(comm.sent) == 2


@pytest.mark.parametrize("msg", [{}, {"content": None}, {"content": "x"}, "raw", None], ids=repr)
def test_malformed_comm_envelope_gets_an_error_reply(msg):
    comm = _open()
    comm.msg_cb(msg)
    assert comm.sent[-1]["kind"] == "error"


def test_huge_key_is_not_echoed_back():
    comm = _open()
    key = "k" * 5_000_000
    comm.msg_cb({"content": {"data": {"request": "detail", "key": key, "rid": "9"}}})
    reply = comm.sent[-1]
    assert reply["kind"] == "error" and reply["rid"] == "9"
    assert len(json.dumps(reply)) < 1000


def test_huge_request_name_and_rid_are_not_echoed_back():
    comm = _open()
    comm.msg_cb({"content": {"data": {"request": "r" * 1_000_000, "rid": "i" * 1_000_000}}})
    reply = comm.sent[-1]
    assert reply["kind"] == "error" and "rid" not in reply
    assert len(json.dumps(reply)) < 1000


def test_non_string_key_is_an_error_reply():
    comm = _open()
    comm.msg_cb({"content": {"data": {"request": "detail", "key": {"a": 1}, "rid": 3}}})
    assert comm.sent[-1] == {
        "kind": "error",
        "error": "detail needs a function key (dict given)",
        "rid": 3,
    }


def test_valid_requests_still_answer():
    comm = _open()
    comm.msg_cb({"content": {"data": {"request": "detail", "key": "nope:gone:1", "rid": "2"}}})
    reply = comm.sent[-1]
    assert reply["kind"] == "detail" and reply["rid"] == "2" and reply["programs"] == []
