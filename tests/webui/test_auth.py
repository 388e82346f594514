"""Sign-in, throttling, sign-out, cookies and the language switch."""
from .conftest import PASSWORD, Client


def test_sign_in_lands_in_the_inbox_with_safe_cookies(client):
    response = client.login("committee")
    assert response.status_code == 302 and response.location.endswith("/inbox")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "committee" in client.get("/inbox").get_data(as_text=True)


def test_wrong_password_is_refused(client):
    response = client.login("committee", "wrong-password")
    assert response.status_code == 401
    assert client.http.get("/inbox").status_code == 302  # still signed out


def test_repeated_failures_delay_the_next_try_without_locking_the_account(web, client):
    free = web.services.settings.login_account_free_failures
    for _ in range(free + 1):
        assert client.login("town", "nope-nope").status_code == 401
    response = client.login("town", PASSWORD)
    assert response.status_code == 429
    assert "秒后再试" in response.get_data(as_text=True)
    assert Client(web.app).login("committee").status_code == 302  # others are unaffected


def test_anonymous_visitors_are_sent_to_sign_in(client):
    for url in ("/inbox", "/instances", "/instances/new", "/tasks/x", "/instances/1"):
        response = client.http.get(url)
        assert response.status_code == 302 and "/login" in response.location


def test_sign_out_needs_a_post_and_ends_the_session(as_user):
    c = as_user("committee")
    assert c.http.get("/logout").status_code == 405
    assert c.post("/logout").status_code == 302
    assert c.http.get("/inbox").status_code == 302


def test_next_parameter_never_leaves_the_site(client):
    client.get("/login")
    response = client.post("/login?next=https://evil.example/x", {"username": "committee", "password": PASSWORD})
    assert response.location.endswith("/inbox")
    client2 = Client(client.http.application)
    client2.get("/login")
    response = client2.post("/login?next=/instances", {"username": "committee", "password": PASSWORD})
    assert response.location.endswith("/instances")


def test_language_follows_the_browser_and_the_switch(as_user):
    c = as_user("committee")
    assert "收件箱" in c.get("/inbox").get_data(as_text=True)
    assert "Inbox" in c.get("/inbox", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(as_text=True)
    c.post("/lang", {"lang": "en", "next": "/inbox"})
    assert "My tasks" in c.get("/inbox").get_data(as_text=True)
    c.post("/lang", {"lang": "zh_CN"})
    assert "我的任务" in c.get("/inbox", headers={"Accept-Language": "en"}).get_data(as_text=True)
