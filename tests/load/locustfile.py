"""50 ops users browsing the console: worklist tabs, the order list, order pages, the CS lookup.

Run by tests/load/test_load.py (locust headless, in its own process: locust's gevent patches
must not reach the test process). LOAD_USERS_FILE lists the users (username, password, tenant
marker, own order ids); every locust user logs in as the next one through the real login form,
then checks on every page that the orders shown are its tenant's (platform order ids carry the
tenant's marker) and writes what it saw to LOAD_RESULT_FILE at the end."""

from __future__ import annotations

import itertools
import json
import os
import random
import re

from locust import HttpUser, between, events, task

USERS = json.load(open(os.environ["LOAD_USERS_FILE"]))
TABS = ["pending_review", "on_hold", "approved", "to_ship", "shipped", "cancelled"]
MARK = re.compile(r"LT(\d+)-\d{5}")
_next = itertools.count()
SEEN: dict[str, dict] = {}


class OpsUser(HttpUser):
    wait_time = between(0.3, 1.2)

    def on_start(self):
        self.me = USERS[next(_next) % len(USERS)]
        self.seen = SEEN.setdefault(self.me["username"], {"tenant": self.me["marker"], "logged_in": False,
                                                          "pages": 0, "own_orders": 0, "foreign_orders": 0})
        self.client.get("/admin/login/", name="login form")
        token = self.client.cookies.get("csrftoken", "")
        with self.client.post("/admin/login/", name="login", allow_redirects=False, catch_response=True,
                              data={"username": self.me["username"], "password": self.me["password"],
                                    "csrfmiddlewaretoken": token, "next": "/orders/work/"},
                              headers={"Referer": self.host + "/admin/login/"}) as resp:
            if resp.status_code != 302:
                resp.failure(f"login answered {resp.status_code}")
            else:
                self.seen["logged_in"] = True

    def _check(self, resp, must_show: str = ""):
        if resp.status_code != 200:
            resp.failure(f"status {resp.status_code}")
            return
        tenants = MARK.findall(resp.text)
        own = sum(1 for t in tenants if t == str(self.me["marker"]))
        foreign = len(tenants) - own
        self.seen["pages"] += 1
        self.seen["own_orders"] += own
        self.seen["foreign_orders"] += foreign
        if foreign:
            resp.failure(f"{foreign} order ids of another tenant on the page")
        elif must_show and must_show not in resp.text:
            resp.failure(f"{must_show} missing from the page")
        else:
            resp.success()

    @task(4)
    def worklist(self):
        tab = random.choice(TABS)
        with self.client.get(f"/orders/work/{tab}/", name="/orders/work/[tab]/", catch_response=True) as resp:
            self._check(resp)

    @task(2)
    def order_list(self):
        with self.client.get("/orders/", name="/orders/", catch_response=True) as resp:
            self._check(resp)

    @task(4)
    def order_page(self):
        pk, number = random.choice(self.me["orders"])
        with self.client.get(f"/orders/{pk}/", name="/orders/[id]/", catch_response=True) as resp:
            self._check(resp, must_show=number)

    @task(1)
    def lookup(self):
        _pk, number = random.choice(self.me["orders"])
        with self.client.get("/orders/lookup/", params={"q": number}, name="/orders/lookup/?q=",
                             catch_response=True) as resp:
            self._check(resp, must_show=number)


@events.quitting.add_listener
def _write_results(environment, **kwargs):
    path = os.environ.get("LOAD_RESULT_FILE")
    if path:
        with open(path, "w") as fh:
            json.dump(SEEN, fh)
