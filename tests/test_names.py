"""Names printed family name first, as records, claim forms and bills print them."""

from __future__ import annotations

import pytest

from pipeline.names import given_name_first


@pytest.mark.parametrize(
    ("printed", "given_first"),
    [
        ("HARTWELL, DENISE M", "DENISE M HARTWELL"),
        ("JENNINGS, HAROLD, B", "HAROLD B JENNINGS"),
        ("Jennings, Harold, B.", "Harold B. Jennings"),
        ("Denise M Hartwell", "Denise M Hartwell"),
        ("John Smith, Jr.", "John Smith, Jr."),
        ("Smith, John, Jr.", "Smith, John, Jr."),
        ("Alan Whitfield, MD", "Alan Whitfield, MD"),
        ("Whitfield, Alan, MD", "Whitfield, Alan, MD"),
    ],
)
def test_names_given_name_first(printed: str, given_first: str) -> None:
    assert given_name_first(printed) == given_first
