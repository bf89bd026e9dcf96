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
      mask_logs: true                             # optional

Rasa handles a message on the tracker it holds in memory and saves it at the end of the turn:
the NLU pipeline, the policies and the actions of that turn see what the user typed, and only
the saved copy (and the events the wrapped store publishes to the event broker) is masked.
A slot value typed in one turn and used by an action in a later one (the address form's street)
would reach that action as a placeholder; so this store remembers the original slot values in
this process's memory for `keep_slot_values_for` seconds and puts them back into the tracker
the processor retrieves. The HTTP API's tracker (`retrieve_full_tracker`) never gets them back.
"""
import logging
import time
from typing import Any, Dict, Iterable, List, Optional, Text, Tuple

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import TrackerStore, create_tracker_store
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from privacy.log_filter import install_log_masking
from privacy.masking import MaskingConfig, mask_events

logger = logging.getLogger(__name__)

DEFAULT_KEEP_SLOT_VALUES_FOR = 900.0


def _slot_key(event: SlotSet) -> Tuple[Text, float]:
    return event.key, event.timestamp


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
        # conversation id -> {(slot, timestamp): (original SlotSet, time it was saved)}
        self._recent_slots: Dict[Text, Dict[Tuple[Text, float], Tuple[SlotSet, float]]] = {}
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
        if self.keep_slot_values_for <= 0:
            return
        now = time.monotonic()
        recent = self._recent_slots.setdefault(sender_id, {})
        for original, stored in zip(events, masked):
            if isinstance(original, SlotSet) and original is not stored:
                recent[_slot_key(stored)] = (original, now)
        self._forget_expired(now)

    def _forget_expired(self, now: float) -> None:
        for sender_id in list(self._recent_slots):
            recent = self._recent_slots[sender_id]
            for key in [k for k, (_, saved) in recent.items() if now - saved > self.keep_slot_values_for]:
                del recent[key]
            if not recent:
                del self._recent_slots[sender_id]

    def _with_recent_slot_values(
        self, tracker: Optional[DialogueStateTracker]
    ) -> Optional[DialogueStateTracker]:
        if tracker is None:
            return None
        self._forget_expired(time.monotonic())
        recent = self._recent_slots.get(tracker.sender_id)
        if not recent:
            return tracker
        events = [
            recent[_slot_key(event)][0]
            if isinstance(event, SlotSet) and _slot_key(event) in recent
            else event
            for event in tracker.events
        ]
        restored = DialogueStateTracker.from_events(
            tracker.sender_id,
            events,
            slots=list(tracker.slots.values()),
            max_event_history=tracker._max_event_history,
        )
        restored.model_id = tracker.model_id
        return restored
