"""A local stand-in for Stripe's API, for the payment tests: the `stripe` library's `api_base` points
at an HTTP server on 127.0.0.1 that answers Checkout Sessions and Refunds as Stripe would and keeps
what it was sent. Nothing reaches the network.

Use the `stripe_stub` fixture (import it, and `stripe_server`, into the test module): it resets the
record, sets the test keys and returns the handler class, whose `received` lists the calls and
whose `refund_error` (status, body) makes refunds fail as Stripe does.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
import stripe

SECRET_KEY = "sk_test_porchlight"
WEBHOOK_SECRET = "whsec_test_porchlight"


def _metadata(form: dict) -> dict:
    return {key[9:-1]: value for key, value in form.items() if key.startswith("metadata[")}


class StubStripe(BaseHTTPRequestHandler):
    received: list[dict] = []
    refund_error: tuple[int, dict] | None = None

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        form = {key: values[0] for key, values in parse_qs(body).items()}
        cls = type(self)
        cls.received.append(
            {
                "path": self.path,
                "form": form,
                "auth": self.headers.get("Authorization"),
                "idempotency_key": self.headers.get("Idempotency-Key"),
            }
        )
        number = len(cls.received)
        if self.path == "/v1/refunds":
            if cls.refund_error is not None:
                self._answer(*cls.refund_error)
                return
            self._answer(
                200,
                {
                    "id": f"re_test_{number}",
                    "object": "refund",
                    "amount": int(form.get("amount", 0)),
                    "currency": "usd",
                    "payment_intent": form.get("payment_intent"),
                    "status": "succeeded",
                    "metadata": _metadata(form),
                },
            )
        elif self.path == "/v1/checkout/sessions":
            self._answer(
                200,
                {
                    "id": f"cs_test_{number}",
                    "object": "checkout.session",
                    "url": f"https://checkout.stripe.test/pay/cs_test_{number}",
                    "amount_total": int(form.get("line_items[0][price_data][unit_amount]", 0)),
                    "currency": form.get("line_items[0][price_data][currency]"),
                    "metadata": _metadata(form),
                    "payment_status": "unpaid",
                    "mode": "payment",
                },
            )
        else:
            self._answer(404, {"error": {"message": "no such route", "type": "invalid_request_error"}})

    def _answer(self, status, data):
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def stripe_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), StubStripe)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def stripe_stub(app, monkeypatch, stripe_server):
    StubStripe.received = []
    StubStripe.refund_error = None
    monkeypatch.setattr(stripe, "api_base", f"http://127.0.0.1:{stripe_server.server_address[1]}")
    monkeypatch.setattr(stripe, "max_network_retries", 0)
    monkeypatch.setattr(stripe, "enable_telemetry", False)
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", SECRET_KEY)
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    return StubStripe
