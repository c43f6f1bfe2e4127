#!/usr/bin/env python3
"""fault_proxy.py: an HTTP proxy for the S3 tests that breaks chosen requests.

Sits in front of an S3-compatible server on loopback and forwards every request, except those
matching a rule, which get an error status (with an S3 error body) or a dropped connection:

    fault_proxy.py --upstream 127.0.0.1:PORT --port-file FILE \
        --rule 'PUT:partNumber=2:503:2'     # the first 2 matching requests: 503 SlowDown
        --rule 'PUT:partNumber=1:drop:1'    # read the request, then close without answering
        --rule 'PUT:uploadId:429:99'        # every part upload throttled (99 times)

A rule is METHOD:SUBSTRING:ACTION:COUNT[:SKIP]; SUBSTRING is looked for in the path and query;
the first SKIP matching requests (default 0) are forwarded untouched. The
proxy listens on a free loopback port, writes it to --port-file, and logs one line per request
to stderr ("<method> <target> -> <status|drop|forwarded STATUS>"), which tests count.
"""
import argparse
import http.client
import socketserver
import sys
import threading
from http.server import BaseHTTPRequestHandler

REASONS = {500: "InternalError", 503: "SlowDown", 429: "SlowDown"}


class Rule:
    def __init__(self, text):
        fields = text.split(":")
        self.method, self.needle, self.action, count = fields[:4]
        self.left = int(count)
        self.skip = int(fields[4]) if len(fields) > 4 else 0

    def take(self, method, target):
        if self.left > 0 and method == self.method and self.needle in target:
            if self.skip > 0:
                self.skip -= 1
                return False
            self.left -= 1
            return True
        return False


def make_handler(upstream, rules, lock):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def note(self, outcome):
            # A session token is noted when the request carries it and signs it.
            token = ""
            if self.headers.get("X-Amz-Security-Token"):
                signed = "x-amz-security-token" in self.headers.get("Authorization", "")
                token = " [session token, signed]" if signed else " [session token, NOT signed]"
            sys.stderr.write(f"{self.command} {self.path} -> {outcome}{token}\n")
            sys.stderr.flush()

        def handle_any(self):
            length = int(self.headers.get("Content-Length") or 0)
            action = None
            with lock:
                for rule in rules:
                    if rule.take(self.command, self.path):
                        action = rule.action
                        break
            if action == "drop":
                self.rfile.read(min(length, 1024))  # part of the body, then a reset
                self.note("drop")
                self.close_connection = True
                try:
                    import socket
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                except OSError:
                    pass
                return
            body = self.rfile.read(length) if length else b""
            if action is not None:
                status = int(action)
                text = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{REASONS.get(status, "InternalError")}'
                        f"</Code><Message>injected by fault_proxy</Message></Error>").encode()
                self.note(str(status))
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)
                return
            connection = http.client.HTTPConnection(upstream, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            self.note(f"forwarded {response.status}")
            self.send_response(response.status)
            for name, value in response.getheaders():
                if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(name, value)
            if self.command != "HEAD":
                self.send_header("Content-Length", str(len(data)))
            else:
                self.send_header("Content-Length", response.getheader("Content-Length", "0"))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            connection.close()

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any

    return Handler


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--rule", action="append", default=[])
    args = parser.parse_args()
    rules = [Rule(text) for text in args.rule]
    server = Server(("127.0.0.1", 0), make_handler(args.upstream, rules, threading.Lock()))
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    import os
    os.rename(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
