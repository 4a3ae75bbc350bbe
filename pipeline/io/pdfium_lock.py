"""One lock for every pdfium call in this process.

pdfium (through pypdfium2) is not thread-safe: two threads inside it at once can crash
the process. The batch runs packets on threads, so every open, render and close of a PDF
takes this lock. Worker processes each have their own pdfium and their own lock.
"""

from __future__ import annotations

import threading

__all__ = ["PDFIUM_LOCK"]

PDFIUM_LOCK = threading.RLock()
