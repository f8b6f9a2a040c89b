"""A problem in a case file (or a plugin's expectations file), located by ``file:line:col``."""

from __future__ import annotations

import re
from dataclasses import dataclass

_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


@dataclass(frozen=True)
class CaseError:
    """One problem in a case file, located as precisely as we can."""

    file: str
    line: int
    column: int
    field: str
    message: str
    case_id: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        what = f"{self.field}: " if self.field else ""
        case = f" (case {self.case_id})" if self.case_id else ""
        # One line, whatever the file held: a newline in an id could forge output lines.
        return _UNPRINTABLE.sub(lambda m: ascii(m.group())[1:-1], f"{where}: {what}{self.message}{case}")
