"""``capturehub record --device URL``: a device's samples streamed into a new recording, with
a live view, until Ctrl-C (or ``--duration``, or the device ending its stream).

A thin shell over :mod:`capturehub.recording` (the device readers and the recorder) and the
SDK's recordings; what it adds is the terminal: the live view, Ctrl-C, and the label.
"""

from __future__ import annotations

import signal
import time
from typing import Any

import click
from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from capturehub.cli.errors import CliError
from capturehub.cli.output import stderr_console, stdout_console
from capturehub.cli.session import open_client, project_option, quiet_option, server_option
from capturehub.recording import Device, DeviceError, DeviceRecorder, Progress, open_device

REFRESH_PER_SECOND = 4


def _pairs(values: tuple[str, ...], what: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint=what)
        pairs[key.strip()] = value.strip()
    return pairs


def live_view(device: Device, name: str, progress: Progress, note: str = "") -> Group:
    """The live view's table (also what ``--quiet`` leaves out)."""
    stats = progress.device
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    table.add_row("device", f"{device.url}  ({device.protocol}, {len(device.columns)} columns)")
    table.add_row("recording", name)
    table.add_row("elapsed", f"{progress.elapsed:6.1f} s")
    table.add_row(
        "samples",
        f"{progress.samples_stored:,} stored, {progress.samples_read:,} read"
        + (f", {progress.batches_waiting} batches waiting" if progress.batches_waiting else ""),
    )
    table.add_row("rate", f"{progress.rate:7.1f} samples/s (device says {device.sample_rate:g})")
    if device.protocol.startswith("Simple Streaming"):
        table.add_row(
            "packets",
            f"{stats.packets:,} received, {stats.dropped_packets:,} dropped (bad checksum), "
            f"{stats.lost_packets:,} lost (sequence gaps), {stats.skipped_bytes:,} bytes skipped",
        )
    else:
        table.add_row("bad lines", f"{stats.bad_lines:,}")
    parts: list[Any] = [table]
    if note:
        parts.append(Text(note, style="dim"))
    return Group(*parts)


@click.command()
@click.option(
    "--device",
    "device_url",
    required=True,
    metavar="URL",
    help="tcp://HOST:PORT (Simple Streaming over Wi-Fi) or serial:///dev/ttyX?baud=460800"
    "[&mode=simple|lines] (Simple Streaming or one reading per line; baud 115200 by default).",
)
@project_option
@click.option("--name", "-n", required=True, help="The new capture's name (unique in the project).")
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    help="Samples per second of a line-mode device (default: measured while listening 1 s).",
)
@click.option(
    "--columns",
    metavar="A,B,C",
    help="Column names of a line-mode device (default: axis1, axis2, ...).",
)
@click.option(
    "--label",
    "labels",
    multiple=True,
    metavar="LABEL=VALUE",
    help="A segment over the whole capture once stopped and processed (repeatable).",
)
@click.option(
    "--metadata",
    multiple=True,
    metavar="KEY=VALUE",
    help="Capture metadata set at the start (repeatable).",
)
@click.option(
    "--duration",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Stop after this long (default: at Ctrl-C, or when the device ends its stream).",
)
@server_option
@quiet_option
def record(
    device_url: str,
    project: str,
    name: str,
    rate: float | None,
    columns: str | None,
    labels: tuple[str, ...],
    metadata: tuple[str, ...],
    duration: float | None,
    server: str | None,
    quiet: bool,
) -> None:
    """Record a device's samples into a new capture, live, until Ctrl-C.

    \b
    Examples:
      capturehub record --device tcp://192.168.1.40:80 -p gait -n walk-01 --label Activity=walk
      capturehub record --device 'serial:///dev/ttyACM0?baud=460800' -p gait -n walk-02
      capturehub record --device serial:///dev/ttyUSB0 --columns ax,ay,az -p gait -n run-01

    Ctrl-C stops the device and the recording; every sample read is stored first. See
    docs/recording.md.
    """
    label_pairs = _pairs(labels, "--label")
    metadata_pairs = _pairs(metadata, "--metadata")
    column_names = [c.strip() for c in columns.split(",")] if columns else None
    client = open_client(server)
    client.project = project
    err = stderr_console()
    err.quiet = quiet
    if not quiet:
        err.print(f"listening to {device_url} ...")
    try:
        device = open_device(device_url, rate=rate, column_names=column_names)
    except DeviceError as exc:
        raise CliError(str(exc)) from exc
    try:
        recording = client.project.recordings.start(
            name,
            [{"name": column, "units": ""} for column in device.columns],
            device.sample_rate,
            metadata=metadata_pairs or None,
        )
    except BaseException:
        device.close()
        raise
    recorder = DeviceRecorder(device, recording)
    reason = "the device ended its stream"

    def terminated(signum: int, frame: object) -> None:
        # SIGTERM (a service manager, `kill`) stops as cleanly as Ctrl-C does.
        raise KeyboardInterrupt("SIGTERM")

    signal.signal(signal.SIGTERM, terminated)
    recorder.start()
    with Live(
        live_view(device, name, recorder.progress()),
        console=err,
        refresh_per_second=REFRESH_PER_SECOND,
        transient=False,
        auto_refresh=False,
    ) as live:
        started = time.monotonic()
        try:
            while not recorder.wait(1 / REFRESH_PER_SECOND):
                live.update(live_view(device, name, recorder.progress(), "Ctrl-C stops"))
                live.refresh()
                if duration is not None and time.monotonic() - started >= duration:
                    reason = f"{duration:g} s"
                    break
        except KeyboardInterrupt as stop:
            reason = "SIGTERM" if str(stop) == "SIGTERM" else "Ctrl-C"
        # A second Ctrl-C while the last batches go out would lose them: finish first.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            live.update(live_view(device, name, recorder.progress(), "stopping ..."))
            live.refresh()
            try:
                final = recorder.stop()
            finally:
                recording.stop()
            live.update(live_view(device, name, final))
            live.refresh()
        finally:
            signal.signal(signal.SIGINT, previous)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
    out = stdout_console()
    stats = final.device
    problems = (
        f"{stats.dropped_packets} packets dropped, {stats.lost_packets} lost, "
        f"{stats.skipped_bytes} bytes skipped"
        if device.protocol.startswith("Simple Streaming")
        else f"{stats.bad_lines} bad lines"
    )
    out.print(
        f"recorded {final.samples_stored} samples of {len(device.columns)} columns at "
        f"{device.sample_rate:g} Hz into {name!r} ({reason}; {problems})"
    )
    if label_pairs:
        capture = client.project.captures.get_capture_by_uuid(recording.uuid)
        if capture is None:
            raise CliError(f"the recording {name!r} is gone; it was not labelled")
        capture.await_ready(sleep=0.5)
        last = capture.max_sequence
        if not last:
            raise CliError(f"the recording {name!r} has no samples to label")
        for label, value in label_pairs.items():
            # A new label, or a new value of a label, is created as an upload's would be.
            client.project.captures.create_label(label, [value], exist_ok=True)
            capture.segments.add(label, value, 0, last)
            out.print(f"labelled samples 0..{last} {label}={value}")
