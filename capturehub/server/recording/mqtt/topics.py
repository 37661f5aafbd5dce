"""The topics devices publish to and capturehub answers on.

``<prefix>/<device>/capture/<id>/start``    the recording's channels and rate (JSON)
``<prefix>/<device>/capture/<id>/samples``  a batch: JSON, or the kind its content type names
``<prefix>/<device>/capture/<id>/samples/<kind>``  the same, kind named here (json, senml,
                                             simple-streaming) for clients without one
``<prefix>/<device>/capture/<id>/stop``     stop it (any payload)
``<prefix>/<device>/capture/<id>/status``   capturehub's answer (retained JSON)
``<prefix>/status``                         the subscriber's own state (retained JSON)
"""

from __future__ import annotations

from dataclasses import dataclass

from capturehub.server.recording.mqtt.devices import NAME

START, SAMPLES, STOP, STATUS = "start", "samples", "stop", "status"
ACTIONS = (START, SAMPLES, STOP)


@dataclass(frozen=True)
class Topic:
    device: str
    recording_id: str
    action: str
    # The payload kind a samples topic names, if it names one.
    kind: str | None = None

    def status(self, prefix: str) -> str:
        return f"{prefix}/{self.device}/capture/{self.recording_id}/{STATUS}"


def subscriptions(prefix: str) -> list[str]:
    return [f"{prefix}/+/capture/+/+", f"{prefix}/+/capture/+/{SAMPLES}/+"]


def subscriber_status(prefix: str) -> str:
    return f"{prefix}/{STATUS}"


def parse_topic(prefix: str, topic: str) -> Topic | None:
    """The parts of a device's topic, or None for a topic that is not one (our own status
    messages among them)."""
    levels = topic.split("/")
    if len(levels) not in (5, 6) or levels[0] != prefix or levels[2] != "capture":
        return None
    device, recording_id, action = levels[1], levels[3], levels[4]
    if not NAME.fullmatch(device) or not NAME.fullmatch(recording_id):
        return None
    if len(levels) == 6:
        if action != SAMPLES:
            return None
        return Topic(device, recording_id, action, kind=levels[5])
    if action == STATUS:
        return None
    return Topic(device, recording_id, action)
