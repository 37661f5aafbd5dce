"""What metadata and segments share: the capture, label and value lookups of their bodies
(resolve.py), "this caller's project and capture" for their routes (scope.py), and reading and
deleting their rows (rows.py)."""
