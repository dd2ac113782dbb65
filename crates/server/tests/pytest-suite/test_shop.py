"""A small, real test suite whose allure-results the end-to-end test uploads.

Outcomes, as Allure counts them: 5 passed (one test parametrised three times), 1 failed (an assertion), 1 broken
(an unexpected exception), 1 skipped: 8 results. The end-to-end test counts them from the result files itself.
"""

import allure
import pytest


def price(quantity, unit):
    return quantity * unit


@allure.feature("cart")
def test_empty_cart_costs_nothing():
    assert price(0, 10) == 0


@allure.feature("cart")
@pytest.mark.parametrize("quantity", [1, 2, 3])
def test_price_grows_with_quantity(quantity):
    with allure.step(f"price {quantity} items"):
        assert price(quantity, 5) == quantity * 5


@allure.feature("cart")
def test_attachment_is_kept():
    allure.attach("receipt line 1\nreceipt line 2", name="receipt", attachment_type=allure.attachment_type.TEXT)
    assert True


@allure.feature("checkout")
def test_discount_is_applied():
    assert price(2, 10) == 18, "the 10% discount is missing"


@allure.feature("checkout")
def test_payment_gateway_answers():
    raise ConnectionError("payment gateway unreachable")


@allure.feature("checkout")
@pytest.mark.skip(reason="gift cards are not sold yet")
def test_gift_card():
    pass
