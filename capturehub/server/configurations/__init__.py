"""Capture configurations: named descriptions of how captures were recorded (device, sensors)."""
