"""The shop's order database: SQLAlchemy 1.4 models and a small repository layer.

Actions never touch sessions or SQL themselves; they call the functions at the bottom
of this module, which return plain snapshots (``OrderInfo``...) that stay valid after
the session closes. Business rules that must hold in the database (only orders that are
still being processed can be cancelled or re-addressed) live here, next to the write.

The database URL comes from ``RAPPORT_DATABASE_URL`` (read when the engine is first
needed, so tests and deployments can point it anywhere); without it a SQLite file
``rapport.db`` at the repository root is used. Only portable ORM constructs are used,
so a ``postgresql://`` URL works the same way.

Command line::

    python -m actions.db init           # create the schema and seed demo orders (idempotent)
    python -m actions.db init --reset   # drop everything first
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    TypeDecorator,
    create_engine,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, declarative_base, relationship, sessionmaker

logger = logging.getLogger(__name__)

DATABASE_URL_ENV = "RAPPORT_DATABASE_URL"
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = f"sqlite:///{REPO_ROOT / 'rapport.db'}"

PROCESSING = "processing"
SHIPPED = "shipped"
DELIVERED = "delivered"
CANCELLED = "cancelled"
ORDER_STATUSES = (PROCESSING, SHIPPED, DELIVERED, CANCELLED)

Base = declarative_base()


class CustomerText(TypeDecorator):
    """A column holding what a customer typed, which reaches the action server unchecked: lone
    surrogates (valid in JSON, not encodable as UTF-8) become U+FFFD and NUL characters (PostgreSQL
    refuses them) are dropped, so storing it cannot fail. (Rasa's side: channels/limits.py.)"""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Optional[str], dialect: object) -> Optional[str]:
        if value is None:
            return None
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace").replace("\x00", "")


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


# --- models ---------------------------------------------------------------------------


class Order(Base):
    __tablename__ = "orders"

    id = Column(String(16), primary_key=True)
    customer_name = Column(CustomerText(120), nullable=False)
    email = Column(String(254), nullable=False)
    status = Column(String(16), nullable=False, default=PROCESSING)
    carrier = Column(String(60))
    tracking_number = Column(String(60))
    estimated_delivery = Column(Date)
    delivered_on = Column(Date)
    street = Column(CustomerText(200), nullable=False)
    city = Column(CustomerText(100), nullable=False)
    postcode = Column(CustomerText(20), nullable=False)
    created_at = Column(DateTime, nullable=False, default=_utcnow)

    items = relationship(
        "OrderItem", back_populates="order", cascade="all, delete-orphan", order_by="OrderItem.id"
    )


class OrderItem(Base):
    __tablename__ = "order_items"

    id = Column(Integer, primary_key=True, autoincrement=True)
    order_id = Column(String(16), ForeignKey("orders.id"), nullable=False, index=True)
    product = Column(String(200), nullable=False)
    quantity = Column(Integer, nullable=False, default=1)
    unit_price_cents = Column(Integer, nullable=False)  # exact on every dialect

    order = relationship("Order", back_populates="items")


class RefundRequest(Base):
    __tablename__ = "refund_requests"

    id = Column(Integer, primary_key=True, autoincrement=True)
    order_id = Column(String(16), ForeignKey("orders.id"), nullable=False, index=True)
    sender_id = Column(CustomerText(255))
    reason = Column(CustomerText)
    status = Column(String(16), nullable=False, default="pending")
    created_at = Column(DateTime, nullable=False, default=_utcnow)


class HandoffRequest(Base):
    """A request to talk to a person; the order id is free text (it may be unknown)."""

    __tablename__ = "handoff_requests"

    id = Column(Integer, primary_key=True, autoincrement=True)
    sender_id = Column(CustomerText(255), nullable=False)
    order_id = Column(String(16))
    reason = Column(CustomerText)
    status = Column(String(16), nullable=False, default="open")
    created_at = Column(DateTime, nullable=False, default=_utcnow)


class AddressChange(Base):
    """Audit trail of shipping-address changes, so support can see what was replaced."""

    __tablename__ = "address_changes"

    id = Column(Integer, primary_key=True, autoincrement=True)
    order_id = Column(String(16), ForeignKey("orders.id"), nullable=False, index=True)
    sender_id = Column(CustomerText(255))
    old_address = Column(CustomerText, nullable=False)
    new_address = Column(CustomerText, nullable=False)
    created_at = Column(DateTime, nullable=False, default=_utcnow)


# --- snapshots returned to callers ----------------------------------------------------


@dataclass(frozen=True)
class OrderInfo:
    id: str
    customer_name: str
    email: str
    status: str
    carrier: Optional[str]
    tracking_number: Optional[str]
    estimated_delivery: Optional[dt.date]
    delivered_on: Optional[dt.date]
    address: str
    items: Tuple[Tuple[str, int, Decimal], ...]

    @property
    def total(self) -> Decimal:
        return sum((quantity * price for _, quantity, price in self.items), Decimal("0.00"))

    @classmethod
    def from_row(cls, order: Order) -> "OrderInfo":
        return cls(
            id=order.id,
            customer_name=order.customer_name,
            email=order.email,
            status=order.status,
            carrier=order.carrier,
            tracking_number=order.tracking_number,
            estimated_delivery=order.estimated_delivery,
            delivered_on=order.delivered_on,
            address=format_address(order.street, order.city, order.postcode),
            items=tuple(
                (item.product, item.quantity, Decimal(item.unit_price_cents).scaleb(-2))
                for item in order.items
            ),
        )


@dataclass(frozen=True)
class RefundInfo:
    id: int
    order_id: str
    status: str
    created: bool  # False when an open request already existed and was returned instead

    @property
    def reference(self) -> str:
        return f"R{self.id:05d}"


@dataclass(frozen=True)
class AddressChangeInfo:
    id: int
    order_id: str
    old_address: str
    new_address: str


class OrderNotFound(LookupError):
    def __init__(self, order_id: str) -> None:
        super().__init__(f"No order with id {order_id!r}")
        self.order_id = order_id


class OrderStateError(ValueError):
    """The order exists but its status does not allow the requested change."""

    def __init__(self, order_id: str, status: str) -> None:
        super().__init__(f"Order {order_id} is {status}")
        self.order_id = order_id
        self.status = status


def format_address(street: str, city: str, postcode: str) -> str:
    return f"{street}, {city} {postcode}"


# --- engine and sessions --------------------------------------------------------------


class Database:
    """One engine plus its session factory; ``configure`` swaps the process-wide one."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(url, future=True, pool_pre_ping=True)
        self._sessions = sessionmaker(bind=self.engine, future=True, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed on success, rolled back on any error."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def create_schema(self, reset: bool = False) -> None:
        if reset:
            Base.metadata.drop_all(self.engine)
        Base.metadata.create_all(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()


_current: Optional[Database] = None


def database_url() -> str:
    return os.environ.get(DATABASE_URL_ENV) or DEFAULT_DATABASE_URL


def configure(url: Optional[str] = None) -> Database:
    """Point the repository functions at ``url`` (default: env var, then rapport.db)."""
    global _current
    if _current is not None:
        _current.dispose()
    _current = Database(url or database_url())
    return _current


def reset_configuration() -> None:
    """Forget the configured engine; the next call reads the environment again."""
    global _current
    if _current is not None:
        _current.dispose()
    _current = None


def current() -> Database:
    return _current if _current is not None else configure()


def _load_order(session: Session, order_id: str, for_update: bool = False) -> Order:
    query = select(Order).where(Order.id == order_id)
    if for_update:
        query = query.with_for_update()
    order = session.execute(query).scalar_one_or_none()
    if order is None:
        raise OrderNotFound(order_id)
    return order


# --- repository -----------------------------------------------------------------------


def get_order(order_id: str) -> Optional[OrderInfo]:
    with current().session() as session:
        order = session.execute(select(Order).where(Order.id == order_id)).scalar_one_or_none()
        return OrderInfo.from_row(order) if order is not None else None


def cancel_order(order_id: str) -> OrderInfo:
    """Cancel an order that has not left the warehouse yet.

    Raises ``OrderNotFound`` or ``OrderStateError`` (status shipped/delivered/cancelled).
    """
    with current().session() as session:
        order = _load_order(session, order_id, for_update=True)
        if order.status != PROCESSING:
            raise OrderStateError(order.id, order.status)
        order.status = CANCELLED
        order.estimated_delivery = None
        session.flush()
        return OrderInfo.from_row(order)


REFUNDABLE_STATUSES = (SHIPPED, DELIVERED)


def request_refund(order_id: str, sender_id: Optional[str], reason: Optional[str]) -> RefundInfo:
    """Store a refund request, or return the one that is still pending for this order.

    Orders that are still processing should be cancelled instead and cancelled orders
    are refunded automatically, so both raise ``OrderStateError``.
    """
    with current().session() as session:
        order = _load_order(session, order_id)
        if order.status not in REFUNDABLE_STATUSES:
            raise OrderStateError(order.id, order.status)
        pending = session.execute(
            select(RefundRequest)
            .where(RefundRequest.order_id == order.id, RefundRequest.status == "pending")
            .order_by(RefundRequest.id)
        ).scalars().first()
        if pending is not None:
            return RefundInfo(pending.id, pending.order_id, pending.status, created=False)
        refund = RefundRequest(order_id=order.id, sender_id=sender_id, reason=reason)
        session.add(refund)
        session.flush()
        return RefundInfo(refund.id, refund.order_id, refund.status, created=True)


def latest_refund(order_id: str) -> Optional[RefundInfo]:
    with current().session() as session:
        refund = session.execute(
            select(RefundRequest)
            .where(RefundRequest.order_id == order_id)
            .order_by(RefundRequest.id.desc())
        ).scalars().first()
        if refund is None:
            return None
        return RefundInfo(refund.id, refund.order_id, refund.status, created=False)


def request_handoff(sender_id: str, order_id: Optional[str], reason: Optional[str]) -> int:
    """Store a request for a human agent and return its ticket number."""
    with current().session() as session:
        handoff = HandoffRequest(sender_id=sender_id, order_id=order_id, reason=reason)
        session.add(handoff)
        session.flush()
        return handoff.id


def change_shipping_address(
    order_id: str, street: str, city: str, postcode: str, sender_id: Optional[str] = None
) -> AddressChangeInfo:
    """Re-address an order that has not shipped yet and record the change.

    Raises ``OrderNotFound`` or ``OrderStateError``.
    """
    with current().session() as session:
        order = _load_order(session, order_id, for_update=True)
        if order.status != PROCESSING:
            raise OrderStateError(order.id, order.status)
        old_address = format_address(order.street, order.city, order.postcode)
        order.street, order.city, order.postcode = street, city, postcode
        change = AddressChange(
            order_id=order.id,
            sender_id=sender_id,
            old_address=old_address,
            new_address=format_address(street, city, postcode),
        )
        session.add(change)
        session.flush()
        return AddressChangeInfo(change.id, order.id, change.old_address, change.new_address)


# --- schema and demo data -------------------------------------------------------------


def _demo_orders(today: dt.date) -> List[Order]:
    def order(
        order_id: str,
        name: str,
        status: str,
        address: Tuple[str, str, str],
        items: Sequence[Tuple[str, int, str]],
        carrier: Optional[str] = None,
        tracking: Optional[str] = None,
        eta_days: Optional[int] = None,
        delivered_days_ago: Optional[int] = None,
    ) -> Order:
        street, city, postcode = address
        return Order(
            id=order_id,
            customer_name=name,
            email=f"{name.split()[0].lower()}@example.com",
            status=status,
            carrier=carrier,
            tracking_number=tracking,
            estimated_delivery=today + dt.timedelta(days=eta_days) if eta_days is not None else None,
            delivered_on=(
                today - dt.timedelta(days=delivered_days_ago)
                if delivered_days_ago is not None
                else None
            ),
            street=street,
            city=city,
            postcode=postcode,
            items=[
                OrderItem(product=p, quantity=q, unit_price_cents=int(Decimal(price) * 100))
                for p, q, price in items
            ],
        )

    return [
        order("A1001", "Jane Doe", SHIPPED, ("12 Elm Street", "Springfield", "62704"),
              [("Ceramic mug, blue", 2, "12.50"), ("Loose-leaf green tea 250g", 1, "18.00")],
              carrier="DHL", tracking="JD014600006281230", eta_days=2),
        order("A1002", "Omar Haddad", PROCESSING, ("4 Harbour Road", "Brighton", "BN1 1AA"),
              [("Wireless headphones", 1, "89.99")], eta_days=5),
        order("A1003", "Mei Lin", DELIVERED, ("77 Cedar Avenue", "Portland", "97205"),
              [("Running shoes, size 8", 1, "120.00"), ("Sport socks 3-pack", 1, "14.00")],
              carrier="UPS", tracking="1Z999AA10123456784", delivered_days_ago=3),
        order("A1004", "Carlos Ruiz", CANCELLED, ("9 Mill Lane", "Leeds", "LS1 4AP"),
              [("Desk lamp", 1, "39.90")]),
        order("A1005", "Priya Nair", PROCESSING, ("210 Oak Drive", "Austin", "73301"),
              [("Yoga mat", 1, "25.00"), ("Water bottle", 2, "9.50")], eta_days=4),
        order("A1006", "Tom Becker", SHIPPED, ("3 Queen Street", "Edinburgh", "EH2 1JX"),
              [("Hardback notebook", 3, "7.99")],
              carrier="Royal Mail", tracking="RM123456785GB", eta_days=1),
        order("A1007", "Aisha Bello", DELIVERED, ("58 Pine Street", "Seattle", "98101"),
              [("Chef's knife", 1, "64.00")],
              carrier="FedEx", tracking="449044304137821", delivered_days_ago=10),
        order("A1008", "Lukas Novak", PROCESSING, ("15 Station Road", "Cambridge", "CB1 2JD"),
              [("Board game: Harbour Lights", 1, "34.99")], eta_days=6),
        order("A1009", "Sofia Rossi", SHIPPED, ("820 Market Street", "San Francisco", "94102"),
              [("Linen shirt, M", 2, "45.00")],
              carrier="USPS", tracking="9400100000000000000000", eta_days=3),
        order("B2001", "Ken Watanabe", DELIVERED, ("1 Castle Hill", "York", "YO1 7HH"),
              [("Espresso machine", 1, "249.00")],
              carrier="DPD", tracking="15501234567890", delivered_days_ago=21),
    ]


def seed_demo_orders(database: Optional[Database] = None) -> int:
    """Insert the demo orders that are missing; returns how many were added."""
    database = database or current()
    with database.session() as session:
        existing = set(session.execute(select(Order.id)).scalars())
        missing = [o for o in _demo_orders(dt.date.today()) if o.id not in existing]
        session.add_all(missing)
        return len(missing)


def init_db(reset: bool = False, database: Optional[Database] = None) -> int:
    """Create the schema (dropping it first when ``reset``) and seed the demo orders."""
    database = database or current()
    database.create_schema(reset=reset)
    return seed_demo_orders(database)


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m actions.db", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    init = commands.add_parser("init", help="create the schema and seed demo orders")
    init.add_argument("--reset", action="store_true", help="drop all tables first")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    database = current()
    added = init_db(reset=args.reset, database=database)
    logger.info(
        "Database %s ready: %d demo orders added.",
        database.engine.url.render_as_string(hide_password=True),
        added,
    )


if __name__ == "__main__":
    main()
