"""The web UI in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright).

- ``capture_page_ms``: from the start of the navigation to the capture page of the
  ``data_rows``-sample capture (10 M in full mode) until its plot has drawn the signal (the
  page's own clock: ``performance.now()`` at uPlot's first draw). Baseline: the same page of a
  2,000-sample capture.
- ``zoom_step_ms``: a click on *Zoom in* until the new window's samples are drawn and a frame
  has passed (the plot route's answer included). Five steps from the whole capture per run.
  Baseline: the same steps on the 2,000-sample capture.
- ``table_first_page_ms``: from the start of the navigation to the capture table of a project
  of ``lookup_captures`` captures (100,000 in full mode, five metadata keys each) until the page
  has loaded (``loadEventEnd``; ``table_first_paint_ms`` is its first contentful paint).
  Baseline: the table of a project of two captures.
- ``plot_route_whole_ms``: the plot route's answer for the whole big capture over HTTP, the
  request the capture page makes first: the server's share of ``capture_page_ms``.

Each figure is the median of its runs, a run and its baseline taken in turns; each page is
opened in a fresh browser context (nothing cached). Without Chromium the section says so and
measures nothing.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.data import make_csv

CHROMIUM = Path("/usr/bin/chromium")
ZOOM_STEPS = 5

WAIT_FOR_PLOT = """() => {
    const plot = document.getElementById('plot');
    return plot && plot.dataset.shownMs && plot.dataset.loading === 'false'
        ? Number(plot.dataset.shownMs) : null;
}"""

ZOOM_ONCE = """async () => {
    const plot = document.getElementById('plot');
    const started = performance.now();
    const drawn = new Promise((resolve) => {
        const watcher = new MutationObserver(() => {
            if (plot.dataset.loading === 'false') {
                watcher.disconnect();
                requestAnimationFrame(() => resolve(performance.now() - started));
            }
        });
        watcher.observe(plot, { attributes: true, attributeFilter: ['data-loading'] });
    });
    document.getElementById('zoom-in').click();
    return await drawn;
}"""

PAGE_TIMING = """() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const paint = performance.getEntriesByName('first-contentful-paint')[0];
    return [nav.loadEventEnd, paint ? paint.startTime : null];
}"""


def bench_ui(workdir: Path, backend: str, sizes: dict[str, int], repeat: int) -> dict[str, Any]:
    if not CHROMIUM.exists():
        return {"skipped": f"no Chromium at {CHROMIUM} (apt-get install chromium)"}
    from playwright.sync_api import sync_playwright

    from benchmarks.run import Session, paired_ratio
    from benchmarks.stats_bench import seed_project
    from tests.ui.helpers import session_cookie

    rows = sizes["data_rows"]
    big_csv = make_csv(workdir / f"data-{rows}rows.csv", rows)
    small_csv = make_csv(workdir / "ui-small.csv", 2_000)
    session = Session(workdir, backend)
    try:
        big = session.wait(session.upload(big_csv, big_csv.name)["uuid"])
        small = session.wait(session.upload(small_csv, small_csv.name)["uuid"])
        table_project, _uuids, _label = seed_project(
            session.process, session.api, sizes["lookup_captures"], 0, name="table"
        )
        url = session.process.url
        cookie = session_cookie(url, session.account)
        pages = {
            "big": f"{url}projects/{session.project}/captures/{big['uuid']}/",
            "small": f"{url}projects/{session.project}/captures/{small['uuid']}/",
            "table_big": f"{url}projects/{table_project}/captures/",
            "table_small": f"{url}projects/{session.project}/captures/",
        }
        runs: dict[str, list[float]] = {
            name: []
            for name in (
                "capture_page_ms",
                "capture_page_small_ms",
                "zoom_step_ms",
                "zoom_step_small_ms",
                "table_first_page_ms",
                "table_first_paint_ms",
                "table_small_ms",
                "plot_route_whole_ms",
            )
        }
        plot_url = f"project/{session.project}/capture/{big['uuid']}/plot/"

        def plot_route() -> None:
            # The server's share of the capture page: the whole capture's window, as the page
            # first asks for it (its plot is 1,264 pixels wide at this viewport).
            started = time.perf_counter()
            session.api.get(
                plot_url, params={"start": 0, "end": rows, "buckets": 1264}
            ).raise_for_status()
            runs["plot_route_whole_ms"].append(1000 * (time.perf_counter() - started))

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-dev-shm-usage"]
            )

            def fresh_page() -> Any:
                context = browser.new_context(viewport={"width": 1280, "height": 860})
                context.add_cookies([{"name": "capturehub_session", "value": cookie, "url": url}])
                return context.new_page()

            def capture_page(which: str, page_key: str, zoom_key: str) -> None:
                page = fresh_page()
                page.goto(pages[which], wait_until="commit")
                shown = page.wait_for_function(WAIT_FOR_PLOT, timeout=120_000).json_value()
                runs[page_key].append(float(shown))
                for _ in range(ZOOM_STEPS):
                    runs[zoom_key].append(float(page.evaluate(ZOOM_ONCE)))
                page.context.close()

            def table(which: str, load_key: str, paint_key: str | None) -> None:
                page = fresh_page()
                page.goto(pages[which], wait_until="load")
                loaded, painted = page.evaluate(PAGE_TIMING)
                runs[load_key].append(float(loaded))
                if paint_key and painted is not None:
                    runs[paint_key].append(float(painted))
                page.context.close()

            # Warm-up, not timed: the server's first reads of each file and page.
            capture_page("big", "capture_page_ms", "zoom_step_ms")
            capture_page("small", "capture_page_small_ms", "zoom_step_small_ms")
            table("table_big", "table_first_page_ms", None)
            for values in runs.values():
                values.clear()
            for _ in range(repeat):
                capture_page("big", "capture_page_ms", "zoom_step_ms")
                capture_page("small", "capture_page_small_ms", "zoom_step_small_ms")
                table("table_big", "table_first_page_ms", "table_first_paint_ms")
                table("table_small", "table_small_ms", None)
                plot_route()
            browser.close()
        figures: dict[str, Any] = {
            "capture_samples": big["number_samples"],
            "table_captures": sizes["lookup_captures"],
        }
        for name, values in runs.items():
            # Chromium does not always report a first contentful paint for a page (seen on a
            # loaded machine): such a figure is None rather than a failed run.
            figures[name] = statistics.median(values) if values else None
            figures[f"{name}_runs"] = [round(v, 1) for v in values]
        figures["capture_page_ratio"] = paired_ratio(
            figures, "capture_page_ms", "capture_page_small_ms"
        )
        figures["table_ratio"] = paired_ratio(figures, "table_first_page_ms", "table_small_ms")
        figures["zoom_step_ratio"] = figures["zoom_step_ms"] / figures["zoom_step_small_ms"]
        return figures
    finally:
        session.close()


if __name__ == "__main__":  # a quick look: python -m benchmarks.ui_bench
    import json

    from benchmarks.run import SIZES

    print(
        json.dumps(bench_ui(Path(tempfile.mkdtemp()), "sqlite", dict(SIZES["smoke"]), 1), indent=2)
    )
