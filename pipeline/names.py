"""How people's names are printed: degree and generation suffixes, family name first.

Light on purpose (no spaCy, no vocabularies): extraction and `eval` both use it.
"""

from __future__ import annotations

import re

__all__ = ["NAME_SUFFIXES", "given_name_first"]

NAME_SUFFIXES = frozenset(
    {"jr", "sr", "ii", "iii", "iv", "md", "do", "phd", "rn", "np", "pa", "pac", "dds", "dmd",
     "dc", "od", "dpm", "crna", "aprn", "lpn", "esq", "mbbs", "facp", "facc", "facs",
     "faap", "facog", "mph", "frcp"}
)  # fmt: skip


def given_name_first(name: str) -> str:
    """A name printed family name first ("HARTWELL, DENISE M", as records and claim forms
    print it) in the order other documents print and a member file keeps: "DENISE M
    HARTWELL"; with its initial set apart too ("JENNINGS, HAROLD, B") "HAROLD B JENNINGS".
    "John Smith, Jr." and "Alan Whitfield, MD" are left as printed."""
    if name.count(",") == 2:
        family, given, initial = (part.strip() for part in name.split(","))
        letters = re.sub(r"\W", "", initial)
        if family and given and 1 <= len(letters) <= 2 and letters.casefold() not in NAME_SUFFIXES:
            return given_name_first(f"{family}, {given} {initial}")
        return name
    if name.count(",") != 1:
        return name
    family, given = (part.strip() for part in name.split(","))
    if not family or not given or re.sub(r"\W", "", given.split()[0]).casefold() in NAME_SUFFIXES:
        return name
    if len(family.split()) > 3 or len(given.split()) > 3:
        return name
    return f"{given} {family}"
