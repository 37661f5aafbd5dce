"""The local blob store under concurrent writers and deletes in one folder: deletes prune
folders that become empty while other writers are moving their files into them."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from capturehub.storage.local import LocalBlobStore

SECONDS = 3.0


def test_writers_and_deletes_in_one_folder_never_fail(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    errors: list[BaseException] = []
    written = [0, 0]
    deadline = time.monotonic() + SECONDS

    def churn(worker: int) -> None:
        try:
            count = 0
            while time.monotonic() < deadline:
                key = f"captures/project/capture/blob-{worker}-{count}"
                writer = store.writer(key)
                writer.write(b"x")
                writer.commit()
                assert store.exists(key)
                store.delete(key)  # the folder is pruned whenever it is empty
                count += 1
            written[worker] = count
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=churn, args=(worker,)) for worker in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert min(written) > 100  # both really churned
    assert list(store.list()) == []
