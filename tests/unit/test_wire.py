import json

import pytest
from pydantic import ValidationError

from contracts.contact import Contact
from plumbing.wire import plain_errors, preserve, restore
from tests.factories import contact_dict


def test_plain_errors_name_the_field_and_say_what_to_do() -> None:
    broken = contact_dict(concerns=["99Z"])
    del broken["analysis"]
    with pytest.raises(ValidationError) as caught:
        Contact.model_validate(broken)
    pairs = dict(plain_errors(caught.value))
    assert pairs["analysis"] == "is required but was not given"
    assert "99Z" in pairs["concerns"]
    assert "Value error" not in pairs["concerns"]


def test_not_json_is_said_plainly() -> None:
    with pytest.raises(json.JSONDecodeError) as caught:
        json.loads(b"Phoned in: worried about the children")
    [(field, problem)] = plain_errors(caught.value)
    assert field == "(message)"
    assert problem.startswith("is not JSON")


@pytest.mark.parametrize("raw", [b"plain text", "caf\u00e9".encode(), b"\xff\xfe\x00binary"])
def test_originals_are_preserved_exactly(raw: bytes) -> None:
    text, encoding = preserve(raw)
    assert restore(text, encoding) == raw
    assert encoding == ("base64" if raw.startswith(b"\xff") else "utf-8")
