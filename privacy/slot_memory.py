"""Where MaskingTrackerStore keeps the unmasked values of masked slots between turns.

A slot typed in one turn and used by an action in a later one (the address form's street, used
when the postcode completes the form) is stored as `[ADDRESS]`; the store puts the typed value
back into the tracker the next turn is handled on, for `keep_slot_values_for` seconds after the
conversation last saved a masked slot. Kept:

- in this process's memory (default): enough for one `rasa run`. With several replicas, a turn
  handled by another replica, or by this one after a restart, does not find the value;
- in Redis (`slot_values_redis:`), shared by every replica: each conversation's values are one
  hash that Redis deletes when it expires. Use a Redis without persistence (`--save ""
  --appendonly no`, as deploy/ runs the lock store's), or the values reach its disk.

Either way the values are never in the tracker store, the event broker or the logs.
"""
import json
import time
from collections import OrderedDict
from typing import Any, Dict, Optional, Text, Tuple

from rasa.shared.core.events import Event, SlotSet

SlotKey = Tuple[Text, float]  # (slot name, timestamp of its SlotSet event)


def slot_key(event: SlotSet) -> SlotKey:
    return event.key, event.timestamp


class InProcessSlotValues:
    """The values in this process's memory; the least recently saved conversation expires
    first, so forgetting costs nothing per turn however many conversations there are."""

    def __init__(self, keep_for: float) -> None:
        self.keep_for = keep_for
        self._values: "OrderedDict[Text, Tuple[Dict[SlotKey, SlotSet], float]]" = OrderedDict()

    def remember(self, sender_id: Text, originals: Dict[SlotKey, SlotSet]) -> None:
        now = time.monotonic()
        self._forget_expired(now)
        kept, _ = self._values.pop(sender_id, ({}, now))
        self._values[sender_id] = ({**kept, **originals}, now)

    def recall(self, sender_id: Text) -> Dict[SlotKey, SlotSet]:
        self._forget_expired(time.monotonic())
        kept = self._values.get(sender_id)
        return dict(kept[0]) if kept else {}

    def __len__(self) -> int:
        return len(self._values)

    def _forget_expired(self, now: float) -> None:
        while self._values:
            _, (_, saved) = next(iter(self._values.items()))
            if now - saved <= self.keep_for:
                return
            self._values.popitem(last=False)


class RedisSlotValues:
    """The values in Redis, shared by the replicas: one hash per conversation
    (`<key_prefix>:masked_slots:<conversation id>`, field: [slot, timestamp], value: the SlotSet
    event as JSON) that expires `keep_for` seconds after its last write."""

    def __init__(
        self,
        keep_for: float,
        url: Text = "localhost",
        port: Any = 6379,
        db: Any = 1,
        password: Optional[Text] = None,
        key_prefix: Optional[Text] = None,
        use_ssl: bool = False,
        socket_timeout: float = 10,
    ) -> None:
        import redis

        self.keep_for = keep_for
        self.red = redis.StrictRedis(
            host=url, port=int(port), db=int(db), password=password or None, ssl=use_ssl,
            socket_timeout=socket_timeout,
        )
        self.prefix = f"{key_prefix}:masked_slots:" if key_prefix else "masked_slots:"

    def remember(self, sender_id: Text, originals: Dict[SlotKey, SlotSet]) -> None:
        key = self.prefix + sender_id
        fields = {json.dumps(list(k)): json.dumps(event.as_dict()) for k, event in originals.items()}
        pipeline = self.red.pipeline()
        pipeline.hset(key, mapping=fields)
        pipeline.expire(key, max(1, int(round(self.keep_for))))
        pipeline.execute()

    def recall(self, sender_id: Text) -> Dict[SlotKey, SlotSet]:
        stored = self.red.hgetall(self.prefix + sender_id)
        recalled = {}
        for field, value in stored.items():
            slot, timestamp = json.loads(field)
            event = Event.from_parameters(json.loads(value))
            if isinstance(event, SlotSet):
                recalled[(slot, timestamp)] = event
        return recalled


def slot_values(keep_for: float, redis_settings: Optional[Dict[Text, Any]]) -> Optional[Any]:
    """Where to keep the values (None: nowhere, `keep_for` is 0)."""
    if keep_for <= 0:
        return None
    if redis_settings:
        return RedisSlotValues(keep_for, **redis_settings)
    return InProcessSlotValues(keep_for)
