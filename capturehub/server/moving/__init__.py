"""Moving a lab off the embedded default (``capturehub migrate``): its database to another
database (PostgreSQL) and its files to another blob store (S3), verified, resumable.

- The old lab is only read: its SQLite file is opened read-only, its files are only read.
- The new database is made by the migrations (so it is exactly what ``capturehub serve``
  expects), then every table the new database has is copied in dependency order, in batches,
  ids kept; PostgreSQL's id sequences are moved past the copied ids afterwards.
- Every stored file is copied, then read back from the new store: its size and sha256 must
  equal the old file's, and an original's must equal what its capture row recorded.
- Progress is written into the new database in the same transaction as the rows it describes
  (tables ``capturehub_move*``), so an interrupted move continues where it stopped and never
  copies a row or a file twice.
- Captures not yet processed, or being processed, are copied as they are (SENT or STARTED):
  the new lab's housekeeping queues them again at start (a STARTED claim has expired by then),
  so their processing happens on the new lab, not in between.
"""

from capturehub.server.moving.errors import MoveError
from capturehub.server.moving.move import MoveReport, move_lab

__all__ = ["MoveError", "MoveReport", "move_lab"]
