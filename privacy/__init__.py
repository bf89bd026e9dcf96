"""Personal data masked before Rasa stores, publishes or logs it (docs/privacy.md).

endpoints.yml names these classes: `type: privacy.MaskingTrackerStore`,
`type: privacy.MaskingEventBroker`.
"""
from privacy.event_broker import MaskingEventBroker
from privacy.tracker_store import MaskingTrackerStore

__all__ = ["MaskingEventBroker", "MaskingTrackerStore"]
