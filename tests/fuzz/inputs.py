"""What a public assistant gets sent, as hypothesis strategies: the short fuzz mode in the test
suite and the full run (bench/fuzz.py) draw from the same ones.

Fixed hostile texts (issue 13's list) are mixed with generated ones: any Unicode including lone
surrogates and control characters, mixed scripts, and request bodies that are not what a
channel expects (not JSON, not an object, wrong types, missing fields, huge metadata).
"""
import json
from typing import Any, Dict, Text

from hypothesis import strategies as st

ONE_MEGABYTE = 1_000_000

SPECIAL_TEXTS: Dict[Text, Text] = {
    "empty": "",
    "whitespace": " \t\n\r\x0b\x0c  \u00a0\u2003",
    "control": "\x00\x01\x02\x1b[31mred\x1b[0m\x7f\x85\u200b\u200e\u202e\ufeff",
    "lone_surrogates": "hi \ud800 there \udfff",
    "nul_only": "\x00" * 10,
    "one_megabyte": "where is my order A1001 " * (ONE_MEGABYTE // 24),
    "ten_thousand_emoji": "😡📦🙏" * 3334,
    "thirty_emoji": "😀" * 30,
    "right_to_left": "أين طلبي A1001؟ \u202eشكرا\u202c עברית",
    "combining": "a\u0301\u0302\u0303\u0304" * 200 + "Z̷̢̛̛̺͈̙̲͓̓̍̈́͊a̸͖̦̲̥̓l̷̢͚̞̞̊g̵̡̛̣̦̈́o̶̺̤̭̾",
    "mixed_scripts": "Где мой заказ A1001? 我的订单 ในที่สุด ᚠᛇᚻ ꙮ ⍟ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "symbols": "⎶⪫ꌠꉧꇉ⊒▤⍲⥽ꆽ⣁⤞ ¯\\_(ツ)_/¯ ★彡",
    "html": '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1">',
    "markdown": "**bold** [click](javascript:alert(1)) ![x](http://evil.example/x.png) `code`",
    "sql": "A1001'; DROP TABLE orders; -- \" OR 1=1 --",
    "template": "{{7*7}} ${7*7} {order_id} %s %(x)s {0} #{7*7} <%= 7*7 %>",
    "path": "../../../../etc/passwd\\..\\windows",
    "long_word": "a" * 5000,
    "many_words": "order " * 3000,
    "digits": "4111 1111 1111 1111 " * 10,
    "personal_data": "card 4111 1111 1111 1111, jane@example.com, +44 20 7946 0958, 221B Baker Street",
    "order_id": "A1001",
    "json_in_text": '{"sender": "x", "message": "y"}',
    "slash_command": '/check_order_status{"order_id": "A1001\'; DROP TABLE orders; --"}',
    "slash_garbage": "/\x00{{{[[[",
    "newlines": "\n" * 1000,
}

_ALPHABET = st.one_of(st.characters(), st.characters(categories=["Cs"]))


def texts(max_size: int = 300, longest: int = ONE_MEGABYTE) -> st.SearchStrategy[Text]:
    """A message text: a fixed hostile one, random Unicode (with lone surrogates), or a mix.

    `longest` cuts the fixed ones (the unit-level fuzz of single components keeps them under
    20,000 characters; the megabyte goes through the whole pipeline over HTTP)."""
    special = st.sampled_from([text[:longest] for text in SPECIAL_TEXTS.values()])
    random_text = st.text(alphabet=_ALPHABET, max_size=max_size)
    return st.one_of(special, random_text, st.tuples(special, random_text).map("".join))


def json_values(depth: int = 3) -> st.SearchStrategy[Any]:
    """Any JSON value (what a client may put where an object or a string belongs)."""
    leaves = st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
        texts(60),
    )
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, max_size=5), st.dictionaries(texts(20), children, max_size=5)
        ),
        max_leaves=depth * 5,
    )


HUGE_METADATA = {"blob": "x" * 200_000, "nested": [[[[{"a": "b" * 1000}]]]] * 50}


def _dump(value: Any) -> bytes:
    return json.dumps(value).encode("utf-8", errors="surrogatepass")


def rest_bodies() -> st.SearchStrategy[bytes]:
    """Bodies POSTed to /webhooks/rest/webhook."""
    sender = st.one_of(st.uuids().map(lambda u: f"fuzz-{u.hex}"), json_values(1))
    good = st.fixed_dictionaries({"sender": st.uuids().map(lambda u: f"fuzz-{u.hex}"), "message": texts()})
    odd_object = st.fixed_dictionaries(
        {},
        optional={
            "sender": sender, "message": st.one_of(texts(), json_values(2)),
            "metadata": st.one_of(json_values(2), st.just(HUGE_METADATA)),
            "input_channel": json_values(1),
        },
    )
    return st.one_of(
        good.map(_dump),
        odd_object.map(_dump),
        json_values().map(_dump),
        st.binary(max_size=300),
        st.just(b"\xff\xfe\xfd" * 100),
        st.just(_dump({"sender": "fuzz-huge", "message": SPECIAL_TEXTS["one_megabyte"]})),
    )


def socketio_payloads() -> st.SearchStrategy[Any]:
    """What a socket.io client emits as `user_uttered` (the session id is filled in by the caller
    when the payload is an object without one)."""
    message = st.fixed_dictionaries(
        {"message": st.one_of(texts(), json_values(1))},
        optional={"metadata": st.one_of(json_values(2), texts(40)), "customData": json_values(2)},
    )
    return st.one_of(message, message, json_values(2))


def action_server_bodies() -> st.SearchStrategy[bytes]:
    """Bodies POSTed to the action server's /webhook: action calls with hostile trackers, and junk."""
    action = st.sampled_from([
        "action_order_status", "action_track_delivery", "action_order_details",
        "action_cancel_order", "action_request_refund", "action_refund_status", "action_handoff",
        "action_track_emotion", "validate_change_address_form", "action_submit_address_change",
        "action_ask_street", "action_default_fallback", "no_such_action",
    ])
    slots = st.fixed_dictionaries({}, optional={
        "order_id": st.one_of(texts(40), json_values(1)), "street": texts(80), "city": texts(40),
        "postcode": texts(20), "requested_slot": json_values(1), "emotion": json_values(1),
    })
    latest = st.fixed_dictionaries({}, optional={
        "text": texts(), "intent": json_values(1),
        "entities": st.lists(st.fixed_dictionaries({"entity": st.just("order_id"), "value": texts(40)}), max_size=3),
    })
    tracker = st.fixed_dictionaries({"sender_id": st.uuids().map(lambda u: f"fuzz-{u.hex}")}, optional={
        "slots": slots, "latest_message": latest, "events": st.lists(json_values(2), max_size=3),
        "active_loop": json_values(1),
    })
    call = st.fixed_dictionaries({"next_action": action, "tracker": tracker}, optional={
        "sender_id": texts(40), "domain": json_values(2), "version": texts(10),
    })
    return st.one_of(call.map(_dump), call.map(_dump), json_values().map(_dump), st.binary(max_size=200))
