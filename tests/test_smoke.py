from tests.conftest import HOST_A, HOST_B, login


def test_sign_in_reaches_dashboard(client, world):
    response = login(client, "margaretjones", follow=True)
    assert response.status_code == 200
    assert "My Alpha Home Care" in response.get_data(as_text=True)


def test_agency_b_user_cannot_sign_in_on_a(client, world):
    assert login(client, "alicebrown", host=HOST_A).status_code == 422
    assert login(client, "alicebrown", host=HOST_B).status_code == 303
