import json

import pytest
from pydantic import ValidationError

from contracts.contact import Contact
from plumbing.wire import plain_errors
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
