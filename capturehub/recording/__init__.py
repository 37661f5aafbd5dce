"""Recording from devices on the client side: reading Simple Streaming (TCP, serial) and
line-oriented serial devices, and moving their rows into a server recording through the SDK
(``capturehub record --device URL``). Nothing here imports the server."""

from capturehub.recording.devices import Device, DeviceEnded, DeviceError, open_device
from capturehub.recording.recorder import DeviceRecorder, Progress

__all__ = ["Device", "DeviceEnded", "DeviceError", "DeviceRecorder", "Progress", "open_device"]
