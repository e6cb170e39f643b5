"""A webhook receiver for the integration tests, verifying with the Standard Webhooks
reference library (PyPI `standardwebhooks`, pinned in requirements.txt), not Premortem's code.

    receiver.py PORT SECRET_FILE

Listens on 127.0.0.1:PORT (0 for any; the port is printed first). Reads the signing secret
from SECRET_FILE at each request (the test writes it once the webhook exists). Each POST is
verified: a good one is answered 204 and printed as one JSON line {"id", "type", "data"};
a bad one is answered 400 and printed as {"invalid": reason}. A message id seen before is
printed again (the test counts duplicates).
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

PORT, SECRET_FILE = int(sys.argv[1]), sys.argv[2]


def emit(line):
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            with open(SECRET_FILE, encoding="utf-8") as f:
                secret = f.read().strip()
            event = Webhook(secret).verify(body, dict(self.headers.items()))
        except (OSError, WebhookVerificationError, ValueError) as err:
            emit({"invalid": f"{type(err).__name__}: {err}"})
            self.send_response(400)
            self.end_headers()
            return
        emit({"id": self.headers["webhook-id"], "type": event["type"], "data": event["data"]})
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
emit({"port": server.server_address[1]})
server.serve_forever()
