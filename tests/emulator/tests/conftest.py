"""pytest's own hook file for the emulator tests: makes ``medplum_emulator`` importable.

Every test module may import the emulator's modules directly, and pytest collects them in name
order, so the path cannot be left to whichever module happens to set it first
(``test_auth_errors`` is collected before any module that imports ``conftest_lifecycle``).
scripts/emulator sets the same path when it starts the server.
"""

from __future__ import annotations

import sys
from pathlib import Path

EMULATOR = Path(__file__).resolve().parents[1]
if str(EMULATOR) not in sys.path:
    sys.path.insert(0, str(EMULATOR))
