"""Recording over MQTT: device keys (devices.py), topics (topics.py), payloads (payloads.py)
and the subscriber that stores what devices publish (subscriber.py). docs/recording.md#mqtt
is the user's side of it."""
