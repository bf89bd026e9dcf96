"""A tracker store that writes conversations with personal data masked, wrapping any Rasa store.

endpoints.yml:

    tracker_store:
      type: privacy.MaskingTrackerStore
      store:                 # the wrapped store, written exactly as without masking
        type: SQL
        dialect: sqlite
        db: trackers.db
      mask: [card, iban, email, phone, address]   # optional, default: all
      placeholders: {card: "[CARD]"}              # optional, per kind
      keep_slot_values_for: 900                   # optional, seconds; 0 = never
      slot_values_redis: {url: redis, port: 6379, db: 1, password: ..., key_prefix: rapport}
                                                  # optional: share them between replicas
      mask_logs: true                             # optional

Rasa handles a message on the tracker it holds in memory and saves it at the end of the turn:
the NLU pipeline, the policies and the actions of that turn see what the user typed, and only
the saved copy (and the events the wrapped store publishes to the event broker) is masked.
A slot value typed in one turn and used by an action in a later one (the address form's street)
would reach that action as a placeholder; so this store remembers the original slot values for
`keep_slot_values_for` seconds (privacy/slot_memory.py: in this process, or in Redis for several
replicas) and puts them back into the tracker the processor retrieves. A masked slot whose value
is not remembered (expired, another replica without `slot_values_redis`, a restart) comes back
empty, never as its placeholder: a form asks for it again instead of an action using
"[ADDRESS]" as an address. The HTTP API's tracker (`retrieve_full_tracker`) never gets them back.
"""
import logging
from typing import Any, Dict, Iterable, List, Optional, Text

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import TrackerStore, create_tracker_store
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from privacy.log_filter import install_log_masking
from privacy.masking import MaskingConfig, mask_events
from privacy.slot_memory import slot_key, slot_values

logger = logging.getLogger(__name__)

DEFAULT_KEEP_SLOT_VALUES_FOR = 900.0


class MaskingTrackerStore(TrackerStore):
    """Masks personal data in every event before the wrapped store saves or publishes it."""

    def __init__(
        self,
        domain: Optional[Domain] = None,
        host: Optional[Text] = None,
        event_broker: Optional[EventBroker] = None,
        store: Optional[Dict[Text, Any]] = None,
        mask: Optional[List[Text]] = None,
        placeholders: Optional[Dict[Text, Text]] = None,
        keep_slot_values_for: float = DEFAULT_KEEP_SLOT_VALUES_FOR,
        slot_values_redis: Optional[Dict[Text, Any]] = None,
        mask_logs: bool = True,
        **kwargs: Any,
    ) -> None:
        if not store or not store.get("type"):
            raise ValueError(
                "privacy.MaskingTrackerStore needs the store it wraps under `store:` with its "
                "`type` (e.g. `store: {type: SQL, dialect: sqlite, db: trackers.db}`)."
            )
        self.config = MaskingConfig.from_settings(mask, placeholders)
        self.keep_slot_values_for = float(keep_slot_values_for)
        self._inner = create_tracker_store(EndpointConfig.from_dict(store), domain, event_broker)
        self.slot_values = slot_values(self.keep_slot_values_for, slot_values_redis)
        super().__init__(domain, event_broker, **kwargs)
        if mask_logs:
            install_log_masking(self.config)

    @property
    def domain(self) -> Domain:
        return self._inner.domain

    @domain.setter
    def domain(self, domain: Optional[Domain]) -> None:
        self._inner.domain = domain or Domain.empty()

    @property
    def wrapped(self) -> TrackerStore:
        return self._inner

    def masked_copy(self, tracker: DialogueStateTracker) -> DialogueStateTracker:
        """The tracker as it is stored: same events, personal data replaced."""
        events = list(tracker.events)
        masked = mask_events(events, self.config)
        if all(a is b for a, b in zip(events, masked)):
            return tracker
        copy = DialogueStateTracker.from_events(
            tracker.sender_id,
            masked,
            slots=list(tracker.slots.values()),
            max_event_history=tracker._max_event_history,
        )
        copy.model_id = tracker.model_id
        return copy

    async def save(self, tracker: DialogueStateTracker) -> None:
        masked = self.masked_copy(tracker)
        if masked is not tracker:
            self._remember_slot_values(tracker.sender_id, list(tracker.events), list(masked.events))
        await self._inner.save(masked)

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        """What the processor handles the next message on: recent slot values restored."""
        tracker = await self._inner.retrieve(sender_id)
        return self._with_recent_slot_values(tracker)

    async def retrieve_full_tracker(self, conversation_id: Text) -> Optional[DialogueStateTracker]:
        """Every session, masked (the HTTP API's tracker, `rasa export`)."""
        return await self._inner.retrieve_full_tracker(conversation_id)

    async def keys(self) -> Iterable[Text]:
        return await self._inner.keys()

    async def exists(self, conversation_id: Text) -> bool:
        return await self._inner.exists(conversation_id)

    # --- slot values kept for the next turns ---------------------------------------------------

    def _remember_slot_values(self, sender_id: Text, events: List[Event], masked: List[Event]) -> None:
        if self.slot_values is None:
            return
        originals = {
            slot_key(stored): original
            for original, stored in zip(events, masked)
            if isinstance(original, SlotSet) and original is not stored
        }
        if originals:
            self.slot_values.remember(sender_id, originals)

    def _is_masked(self, value: Any) -> bool:
        text = value if isinstance(value, str) else str(value)
        return any(self.config.placeholders[kind] in text for kind in self.config.kinds)

    def _unmasked(self, event: Event, recalled: Dict) -> Event:
        """A stored slot event as the next turn must see it: its typed value, or empty."""
        if not isinstance(event, SlotSet) or event.value is None:
            return event
        original = recalled.get(slot_key(event))
        if original is not None:
            return original
        if self._is_masked(event.value):
            return SlotSet(event.key, None, event.timestamp, event.metadata)
        return event

    def _with_recent_slot_values(
        self, tracker: Optional[DialogueStateTracker]
    ) -> Optional[DialogueStateTracker]:
        if tracker is None:
            return None
        recalled = self.slot_values.recall(tracker.sender_id) if self.slot_values else {}
        events = list(tracker.events)
        restored_events = [self._unmasked(event, recalled) for event in events]
        if all(a is b for a, b in zip(events, restored_events)):
            return tracker
        restored = DialogueStateTracker.from_events(
            tracker.sender_id,
            restored_events,
            slots=list(tracker.slots.values()),
            max_event_history=tracker._max_event_history,
        )
        restored.model_id = tracker.model_id
        return restored
