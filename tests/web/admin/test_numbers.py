"""A number in a URL that no database column holds is a page that does not exist (404), never a 500."""

import pytest

HUGE = ["9223372036854775808", "2147483648", "80841033797968985063424", "1000000000"]


@pytest.mark.parametrize("number", HUGE)
def test_the_archive_answers_404_to_an_out_of_range_issue_number(anonymous, number):
    assert anonymous.get(f"/archive/{number}/en").status_code == 404


@pytest.mark.parametrize("number", HUGE)
def test_the_desk_answers_404_to_an_out_of_range_issue_number(admin, number):
    assert admin.get(f"/admin/issues/{number}").status_code == 404
    assert admin.get(f"/admin/issues/{number}/preview/ko").status_code == 404


def test_an_issue_number_in_range_still_reaches_its_page(admin, anonymous):
    assert (
        admin.get("/admin/issues/999999999").status_code == 404
    )  # in range, no such issue: the route's own 404
    assert anonymous.get("/archive/999999999/en").status_code == 404
