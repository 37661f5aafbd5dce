"""Bad input over HTTP: every corpus file has a stated outcome, and none hurts the server.

The corpus (tests/corpus/, built by tests/corpus/generate.py) holds broken, odd and foreign
files. For each one the table below says what must happen when it is uploaded:

* ``processed``: accepted and processed to SUCCESS with exactly ``samples`` rows (and, where
  stated, each channel's ``nan_count``);
* ``refused``: the upload itself is a 400 (asynchronous or not) whose detail has ``words``;
* ``failure``: accepted with 201, then processing ends FAILURE with a ``task_result`` that has
  ``words`` (the problem, and its line/column where there is one); the same file sent with
  ``asynchronous=False`` is a 400 with the same words, and nothing is stored.

The walk also checks what no single case can: no answer is a 5xx, the server process is
alive and answering afterwards, its worker still processes a good file, and its peak memory
(VmHWM) grew by less than 150 MB although one case is a 100 MB line without a newline.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer
from tests.corpus import generate
from tests.reliability.support import (
    FULL,
    client,
    proc_status_kib,
    server_pid,
    temp_files,
)


@dataclass(frozen=True)
class Expect:
    outcome: str  # "processed" | "refused" | "failure"
    samples: int | None = None
    words: tuple[str, ...] = ()
    columns: tuple[str, ...] | None = None
    nan_counts: tuple[tuple[str, int], ...] = ()


def processed(samples: int, *columns: str, nan_counts: dict[str, int] | None = None) -> Expect:
    counts = tuple((nan_counts or {}).items())
    return Expect("processed", samples=samples, columns=columns or None, nan_counts=counts)


def refused(*words: str) -> Expect:
    return Expect("refused", words=words)


def failure(*words: str) -> Expect:
    return Expect("failure", words=words)


# fmt: off
CORPUS: dict[str, Expect] = {
    # --- CSV: structure -------------------------------------------------------------------
    "empty.csv":                        refused("empty"),
    "whitespace_only.csv":              failure("empty"),
    "header_only.csv":                  failure("no data rows", "line 1"),
    "header_only_no_newline.csv":       failure("no data rows"),
    "ragged_short_row.csv":             failure("line 3", "2 fields", "expected 3"),
    "ragged_long_row.csv":              failure("line 4", "4 fields", "expected 3"),
    "non_numeric_cell.csv":             failure("line 3", 'column "y"', '"abc" is not a number'),
    "empty_cell.csv":                   processed(2, "a", "b", nan_counts={"a": 0, "b": 1}),
    "empty_column.csv":                 failure('column "b"', "3 cells is empty",
                                                "remove the column"),
    "boolean_cells.csv":                failure("line 3", 'column "a"', '"true" is not a number'),
    "date_in_channel.csv":              failure("line 3", 'column "a"', "timestamp"),
    "blank_column_name.csv":            failure("line 1", "column 2", "no name"),
    "trailing_delimiter_header.csv":    failure("line 1", "column 3", "no name"),
    "duplicate_column_names.csv":       failure("line 1", '"a" twice', "columns 1 and 3"),
    "no_header_line.csv":               failure("line 1", "looks like data"),
    "only_sequence_column.csv":         failure("line 1", "no channel"),
    "sequence_not_integer.csv":         failure("line 3", 'column "sequence"', "whole number"),
    "timestamp_garbage.csv":            failure("line 4", 'column "timestamp"', "ISO 8601"),
    "bad_cell_deep_in_file.csv":        failure(f"line {generate.DEEP_BAD_LINE}", 'column "y"',
                                                '"oops" is not a number'),
    "one_row.csv":                      processed(1, "AccelX", "AccelY"),
    "nan_and_inf.csv":                  processed(4, "a", "b"),
    "blank_lines_between_rows.csv":     processed(2),
    "quoted_numbers.csv":               processed(2),
    "with_sequence_column.csv":         processed(4),
    "iso_timestamps_with_offset.csv":   processed(4, "a"),
    "wide_10000_columns.csv":           processed(3),
    "int_column_gets_a_fraction_late.csv": processed(generate.WIDEN_ROWS + 1),
    "watch_real_recording.csv":         processed(2455),
    "upper_case_extension.CSV":         processed(2),
    # --- CSV: separators, line ends, encodings --------------------------------------------
    "semicolon_decimal_comma.csv":      processed(3, "AccelX", "AccelY"),
    "tab_separated.csv":                processed(2, "a", "b", "c"),
    "crlf_line_endings.csv":            processed(3, "a", "b"),
    "utf8_bom.csv":                     processed(2, "a", "b"),
    "old_mac_cr_line_endings.csv":      failure("line 1", "carriage return"),
    "utf8_units_in_header.csv":         processed(2, "temp °C", "accel µg", "light"),
    "rtl_and_combining_names.csv":      processed(2, "\u05ea\u05d0\u05d5\u05e6\u05d4",
                                                  "\u0627\u0644\u0633\u0631\u0639\u0629",
                                                  "e\u0301\u0327"),
    "very_long_column_names.csv":       processed(2, "x" * 5000, "y" * 5000, "z" * 5000),
    "latin1_units_in_header.csv":       failure("line 1", "UTF-8", "Latin-1"),
    "utf16_with_bom.csv":               failure("UTF-16", "UTF-8"),
    "utf16_without_bom.csv":            failure("UTF-16", "UTF-8"),
    "utf32.csv":                        failure("UTF-32"),
    "invalid_utf8_in_a_cell.csv":       failure("line 3", 'column "a"', "not a number"),
    "nul_in_a_cell.csv":                failure("NUL", "offset 10"),
    "nul_padding.csv":                  failure("NUL", "offset 8"),
    "geneactiv_vendor_export.csv":      failure("line 2", "preamble"),
    # --- CSV: not a CSV at all, or too long a line -----------------------------------------
    "random_bytes.csv":                 failure("not a text CSV", "binary"),
    "gzip_compressed.csv":              failure("gzip", "decompress"),
    "zip_archive.csv":                  failure("ZIP"),
    "pdf_document.csv":                 failure("PDF"),
    "wav_bytes_named_csv.csv":          failure("WAV", ".wav"),
    "header_3mib_no_newline.csv":       failure("line 1", "longer than the limit"),
    "line_100mb_no_newline.csv":        failure("line 2", "longer than the limit"),
    "not_csv_or_wav.txt":               refused(".json or .cbor"),
    # --- WAV: good files of every supported encoding ---------------------------------------
    "pcm16_mono.wav":                   processed(1000, "channel_0"),
    "pcm16_stereo.wav":                 processed(500, "channel_0", "channel_1"),
    "pcm8_unsigned.wav":                processed(300),
    "pcm24.wav":                        processed(250, "channel_0", "channel_1"),
    "float32.wav":                      processed(200),
    "mulaw.wav":                        processed(800),
    "alaw.wav":                         processed(640),
    "extensible_pcm.wav":               processed(300, "channel_0", "channel_1"),
    "odd_sized_chunk_before_data.wav":  processed(100),
    "data_size_smaller_than_file.wav":  processed(300),
    "data_size_streaming_placeholder.wav": processed(1000),
    "bm003_real_recording.wav":         processed(120_000, "channel_0"),
    # --- WAV: broken or unsupported --------------------------------------------------------
    "empty.wav":                        refused("empty"),
    "ms_adpcm.wav":                     failure("Microsoft ADPCM", "convert it to PCM"),
    "ima_adpcm.wav":                    failure("IMA ADPCM", "convert it to PCM"),
    "gsm610.wav":                       failure("GSM 6.10"),
    "mp3_in_wav.wav":                   failure("MP3"),
    "truncated_in_riff_header.wav":     failure("truncated", "8 bytes"),
    "truncated_in_fmt_chunk.wav":       failure("truncated", "fmt"),
    "truncated_in_data.wav":            failure("truncated", "2000 bytes", "only 1000 bytes"),
    "data_size_larger_than_file.wav":   failure("truncated", "10000000 bytes"),
    "data_size_not_whole_frames.wav":   failure("1999 bytes", "whole number"),
    "fmt_chunk_size_huge.wav":          failure("truncated"),
    "zero_channels.wav":                failure("0 channels"),
    "zero_sample_rate.wav":             failure("0 Hz"),
    "empty_data_chunk.wav":             failure("no samples"),
    "data_before_fmt.wav":              failure('"data" chunk before its "fmt "'),
    "riff_avi_not_wave.wav":            failure("not a RIFF/WAVE", "AVI"),
    "extensible_unknown_guid.wav":      failure("unknown encoding"),
    "bits_larger_than_container.wav":   failure("inconsistent", "24-bit"),
    "csv_text_named_wav.wav":           failure("not a RIFF/WAVE", ".csv"),
    "random_bytes.wav":                 failure("not a RIFF/WAVE"),
    # --- WAV: SciPy's own edge cases (skipped where SciPy's test data is not installed) ----
    "scipy_24bit_3ch.wav":              processed(5, "channel_0", "channel_1", "channel_2"),
    "scipy_24bit_big_endian_rifx.wav":  processed(5),
    "scipy_24bit_rf64.wav":             processed(5),
    "scipy_float32.wav":                processed(441),
    "scipy_float32_big_endian.wav":     processed(441),
    "scipy_float64_extensible.wav":     processed(480),
    "scipy_mulaw.wav":                  processed(9),
    "scipy_12bit_in_16.wav":            processed(9),
    "scipy_20bit_extra_chunk.wav":      processed(10),
    "scipy_36bit.wav":                  failure("40 bits", "convert it to PCM"),
    "scipy_early_eof.wav":              failure("truncated", "17640 bytes"),
    "scipy_incomplete_chunk.wav":       failure("truncated"),
    "scipy_inconsistent_24bit.wav":     failure("inconsistent"),
}
# fmt: on

# Uploaded once more with asynchronous=False only in the full form (they are big).
LARGE = {"line_100mb_no_newline.csv"}
MEMORY_GROWTH_LIMIT_KIB = 150 * 1024
UPLOADERS = 4
GOOD_FILE = "pcm16_mono.wav"


def test_the_table_covers_the_whole_corpus() -> None:
    buildable = set(generate.case_names())
    possible = buildable | set(generate.SCIPY_WAVS)
    assert not buildable - set(CORPUS), "corpus files with no expected outcome in the table"
    assert not set(CORPUS) - possible, "table rows with no corpus file"
    assert len(buildable) >= 40


def _upload(
    api: httpx.Client, project_uuid: str, path: Path, name: str, asynchronous: bool
) -> httpx.Response:
    with open(path, "rb") as handle:
        return api.post(
            f"project/{project_uuid}/capture/",
            data={"name": name, "asynchronous": str(asynchronous)},
            files={"file": (path.name, handle)},
        )


def _describe(response: httpx.Response) -> str:
    return f"{response.status_code} {response.text[:300]}"


def _missing_words(text: str | None, words: tuple[str, ...]) -> list[str]:
    return [word for word in words if word not in (text or "")]


def _wait_all(
    api: httpx.Client, project_uuid: str, uuids: dict[str, str], timeout: float = 180
) -> dict[str, dict[str, Any]]:
    done: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    while len(done) < len(uuids) and time.monotonic() < deadline:
        for name, capture_uuid in uuids.items():
            if name in done:
                continue
            response = api.get(f"project/{project_uuid}/capture/{capture_uuid}/")
            if response.status_code == 200 and response.json()["task_state"] in (
                "SUCCESS",
                "FAILURE",
            ):
                done[name] = response.json()
        time.sleep(0.1)
    return done


def _check_processed(
    name: str, expect: Expect, capture: dict[str, Any], problems: list[str]
) -> None:
    if expect.outcome == "processed":
        if capture["task_state"] != "SUCCESS":
            problems.append(
                f"{name}: expected SUCCESS, got {capture['task_state']}: {capture['task_result']}"
            )
        elif capture["number_samples"] != expect.samples:
            problems.append(
                f"{name}: number_samples {capture['number_samples']}, expected {expect.samples}"
            )
        elif expect.columns and list(capture["schema"]) != [
            c for c in expect.columns if c != "timestamp"
        ]:
            problems.append(
                f"{name}: schema {list(capture['schema'])[:5]}, expected {list(expect.columns)[:5]}"
            )
        for channel, nan_count in expect.nan_counts:
            got = capture["statistics"][channel]["nan_count"]
            if got != nan_count:
                problems.append(f"{name}: {channel} nan_count {got}, expected {nan_count}")
    else:
        if capture["task_state"] != "FAILURE":
            problems.append(
                f"{name}: expected FAILURE, got {capture['task_state']} "
                f"({capture['number_samples']} samples)"
            )
        elif missing := _missing_words(capture["task_result"], expect.words):
            problems.append(f"{name}: task_result {capture['task_result']!r} lacks {missing}")


def _send_async(
    api: httpx.Client, project_uuid: str, path: Path, expect: Expect
) -> tuple[str | None, list[str]]:
    """Upload asynchronously; the capture's uuid when it was accepted, and any problems."""
    name = path.name
    response = _upload(api, project_uuid, path, name, asynchronous=True)
    if response.status_code >= 500:
        return None, [f"{name}: server error on upload: {_describe(response)}"]
    if expect.outcome == "refused":
        if response.status_code != 400:
            return None, [f"{name}: expected 400, got {_describe(response)}"]
        if missing := _missing_words(response.json().get("detail"), expect.words):
            return None, [f"{name}: detail {response.json()['detail']!r} lacks {missing}"]
        return None, []
    if response.status_code != 201:
        return None, [f"{name}: expected 201, got {_describe(response)}"]
    return str(response.json()["uuid"]), []


def _send_sync(api: httpx.Client, project_uuid: str, path: Path, expect: Expect) -> list[str]:
    """Upload with asynchronous=False a file that must fail: a 400, and nothing stored."""
    name, sync_name = path.name, f"sync {path.name}"
    response = _upload(api, project_uuid, path, sync_name, asynchronous=False)
    problems = []
    if response.status_code != 400:
        problems.append(f"{name} (asynchronous=False): expected 400, got {_describe(response)}")
    elif missing := _missing_words(response.json().get("detail"), expect.words):
        problems.append(
            f"{name} (asynchronous=False): detail {response.json()['detail']!r} lacks {missing}"
        )
    listed = api.get(f"project/{project_uuid}/capture/", params={"name": sync_name})
    if listed.status_code != 200 or listed.json():
        problems.append(f"{name} (asynchronous=False): stored after a 400: {_describe(listed)}")
    return problems


def test_corpus_over_http(server: RunningServer, project: dict[str, Any], tmp_path: Path) -> None:
    files = generate.build(tmp_path / "corpus")
    cases = {name: expect for name, expect in CORPUS.items() if name in files}
    pid = server_pid(server.process)
    peak_before = proc_status_kib(pid, "VmHWM")
    problems: list[str] = []
    pid_uuid = project["uuid"]
    with client(server.url, server.token()) as api, ThreadPoolExecutor(UPLOADERS) as pool:
        # 1. Everything asynchronously: refusals answer now, the rest is processed meanwhile.
        queued: dict[str, str] = {}
        sent = pool.map(lambda name: _send_async(api, pid_uuid, files[name], cases[name]), cases)
        for name, (capture_uuid, found) in zip(cases, sent, strict=True):
            problems += found
            if capture_uuid:
                queued[name] = capture_uuid
        done = _wait_all(api, pid_uuid, queued)
        for name, capture_uuid in queued.items():
            if name not in done:
                problems.append(f"{name}: capture {capture_uuid} never finished processing")
            else:
                _check_processed(name, cases[name], done[name], problems)

        # 2. The failing ones again with asynchronous=False: a 400 with the same words, and
        #    nothing stored under that name.
        again = [
            name
            for name, expect in cases.items()
            if expect.outcome == "failure" and (name not in LARGE or FULL)
        ]
        for found in pool.map(
            lambda name: _send_sync(api, pid_uuid, files[name], cases[name]), again
        ):
            problems += found

        # 3. The server survived: alive, answering, processing, and in bounded memory.
        assert server.process.process is not None
        assert server.process.process.poll() is None, f"server died:\n{server.process.log()}"
        assert httpx.get(server.url + "healthz/", timeout=10).status_code == 200
        good = _upload(api, pid_uuid, files[GOOD_FILE], "good after the corpus", True)
        assert good.status_code == 201, good.text
        after = _wait_all(api, pid_uuid, {"good": good.json()["uuid"]}, timeout=60)
        assert after.get("good", {}).get("task_state") == "SUCCESS", after
    peak_after = proc_status_kib(pid, "VmHWM")
    growth = peak_after - peak_before
    assert not temp_files(server.data_dir), "upload temporary files left behind"
    assert not problems, f"{len(problems)} corpus cases went wrong:\n" + "\n".join(problems)
    assert growth < MEMORY_GROWTH_LIMIT_KIB, (
        f"server peak memory grew by {growth // 1024} MiB during the corpus "
        f"({peak_before // 1024} -> {peak_after // 1024} MiB)"
    )


@pytest.mark.parametrize("name", ["line_100mb_no_newline.csv"])
def test_huge_line_costs_no_memory_in_the_parser(name: str, tmp_path: Path) -> None:
    """The ingest layer alone: a 100 MB line is refused after reading one block, not whole."""
    import resource

    from capturehub.ingest import IngestError, measure

    path = generate.build(tmp_path, [name])[name]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    with pytest.raises(IngestError, match="line 2"):
        measure(path, ".csv")
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < MEMORY_GROWTH_LIMIT_KIB
    assert time.monotonic() - started < 10
