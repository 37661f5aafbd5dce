"""The objects a client works with: projects, their captures, and each capture.

Module paths mirror the seed API (``datamanager.captures.Captures``,
``datamanager.capture.Capture``) so code written against it reads the same.
"""

from capturehub.datamanager.capture import Capture
from capturehub.datamanager.captures import Captures
from capturehub.datamanager.project import Project, Projects

__all__ = ["Capture", "Captures", "Project", "Projects"]
