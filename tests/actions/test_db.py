"""The repository layer against a real (temporary) SQLite database."""
import os
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from actions import db


def count(database: db.Database, model: type) -> int:
    with database.session() as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_seed_has_the_demo_orders_the_docs_promise(database: db.Database) -> None:
    a1001 = db.get_order("A1001")
    assert a1001 is not None
    assert a1001.status == db.SHIPPED
    assert a1001.carrier and a1001.tracking_number
    statuses = set()
    for order_id in ["A1001", "A1002", "A1003", "A1004", "A1005", "A1006", "A1007",
                     "A1008", "A1009", "B2001"]:
        order = db.get_order(order_id)
        assert order is not None, order_id
        statuses.add(order.status)
    assert statuses == set(db.ORDER_STATUSES)


def test_init_is_idempotent_and_reset_recreates(database: db.Database) -> None:
    assert db.init_db(database=database) == 0
    assert count(database, db.Order) == 10
    db.cancel_order("A1002")
    assert db.init_db(database=database) == 0
    assert db.get_order("A1002").status == db.CANCELLED  # existing rows are kept
    assert db.init_db(reset=True, database=database) == 10
    assert db.get_order("A1002").status == db.PROCESSING


def test_cli_init_twice_then_reset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv(db.DATABASE_URL_ENV, url)
    db.reset_configuration()
    try:
        db.main(["init"])
        db.main(["init"])
        assert count(db.current(), db.Order) == 10
        db.main(["init", "--reset"])
        assert count(db.current(), db.Order) == 10
    finally:
        db.reset_configuration()


def test_url_comes_from_the_environment_at_call_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db.reset_configuration()
    monkeypatch.setenv(db.DATABASE_URL_ENV, f"sqlite:///{tmp_path / 'env.db'}")
    try:
        assert db.current().url == f"sqlite:///{tmp_path / 'env.db'}"
    finally:
        db.reset_configuration()


def test_default_database_is_at_the_repo_root_whatever_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(db.DATABASE_URL_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    repo_root = Path(__file__).resolve().parents[2]
    assert db.database_url() == f"sqlite:///{repo_root / 'rapport.db'}"


def test_totals_are_exact(database: db.Database) -> None:
    order = db.get_order("A1001")
    assert str(order.total) == "43.00"  # 2 x 12.50 + 18.00, no float rounding


def test_cancel_only_while_processing(database: db.Database) -> None:
    assert db.cancel_order("A1002").status == db.CANCELLED
    assert db.get_order("A1002").status == db.CANCELLED
    for order_id, status in [("A1001", db.SHIPPED), ("A1003", db.DELIVERED),
                             ("A1004", db.CANCELLED)]:
        with pytest.raises(db.OrderStateError) as refused:
            db.cancel_order(order_id)
        assert refused.value.status == status
        assert db.get_order(order_id).status == status
    with pytest.raises(db.OrderNotFound):
        db.cancel_order("Z9999")


def test_refund_is_stored_once_per_order(database: db.Database) -> None:
    first = db.request_refund("A1003", "alice", "the mug arrived broken")
    again = db.request_refund("A1003", "alice", "hello?")
    assert first.created and not again.created
    assert first.id == again.id and first.reference == "R00001"
    with database.session() as session:
        refund = session.get(db.RefundRequest, first.id)
        assert (refund.order_id, refund.sender_id, refund.reason, refund.status) == (
            "A1003", "alice", "the mug arrived broken", "pending")
    assert db.latest_refund("A1003") == db.RefundInfo(first.id, "A1003", "pending", False)
    assert db.latest_refund("A1007") is None


@pytest.mark.parametrize("order_id, status", [("A1002", db.PROCESSING), ("A1004", db.CANCELLED)])
def test_no_refund_request_for_unshipped_orders(
    database: db.Database, order_id: str, status: str
) -> None:
    with pytest.raises(db.OrderStateError) as refused:
        db.request_refund(order_id, "bob", None)
    assert refused.value.status == status
    assert count(database, db.RefundRequest) == 0


def test_handoff_is_stored(database: db.Database) -> None:
    ticket = db.request_handoff("carol", None, "I want a person")
    with database.session() as session:
        handoff = session.get(db.HandoffRequest, ticket)
        assert (handoff.sender_id, handoff.order_id, handoff.reason, handoff.status) == (
            "carol", None, "I want a person", "open")


def test_fuzz_action_server_lone_surrogates_and_nul_are_stored_not_a_500(database: db.Database) -> None:
    """Regression (the action server's fuzz test, session 6): "hi \\ud800 there \\udfff" as the
    text of a handoff request made SQLite's UTF-8 encoding fail and the action server answer 500."""
    ticket = db.request_handoff("fuzz-\ud800", None, "hi \ud800 there \udfff\x00!")
    db.change_shipping_address("A1002", "5 Park \udfffLane", "Leeds", "LS1 4AP", "dave")
    with database.session() as session:
        handoff = session.get(db.HandoffRequest, ticket)
        assert (handoff.sender_id, handoff.reason) == ("fuzz-\ufffd", "hi \ufffd there \ufffd!")
    assert db.get_order("A1002").address == "5 Park \ufffdLane, Leeds LS1 4AP"


def test_address_change_updates_the_order_and_keeps_an_audit_row(database: db.Database) -> None:
    change = db.change_shipping_address("A1002", "5 Park Lane", "Leeds", "LS1 4AP", "dave")
    assert change.old_address == "4 Harbour Road, Brighton BN1 1AA"
    assert db.get_order("A1002").address == "5 Park Lane, Leeds LS1 4AP"
    with database.session() as session:
        row = session.get(db.AddressChange, change.id)
        assert (row.order_id, row.sender_id, row.new_address) == (
            "A1002", "dave", "5 Park Lane, Leeds LS1 4AP")
    with pytest.raises(db.OrderStateError):
        db.change_shipping_address("A1001", "1 Road", "York", "YO1 7HH")
    assert db.get_order("A1001").address == "12 Elm Street, Springfield 62704"


def test_failed_write_is_rolled_back(database: db.Database) -> None:
    with pytest.raises(SQLAlchemyError):
        with database.session() as session:
            session.get(db.Order, "A1002").status = db.CANCELLED
            session.execute(text("SELECT * FROM no_such_table"))
    assert db.get_order("A1002").status == db.PROCESSING


def test_unreachable_database_raises_sqlalchemy_errors(broken_database: db.Database) -> None:
    with pytest.raises(SQLAlchemyError):
        db.get_order("A1001")
    with pytest.raises(SQLAlchemyError):
        db.request_handoff("erin", None, "help")
