"""A small stand-in for the Hugging Face Hub's HTTP API on loopback, for ``HF_ENDPOINT``.

It implements what ``HfApi.create_repo``, ``update_repo_settings``, ``upload_folder`` (tree listing
for ``delete_patterns``, preupload + NDJSON commit with added and deleted files, every file in
"regular" mode) and ``create_tag`` send, stores repos in memory and
records each request's Authorization header, so tests exercise huggingface_hub's real client code.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REPO_ACTION = re.compile(r"/api/datasets/(.+)/(preupload|commit|tag)/([^/?]+)(\?.*)?")
SETTINGS = re.compile(r"/api/datasets/(.+)/settings")
TREE = re.compile(r"/api/datasets/(.+)/tree/([^/?]+)(\?.*)?")


@dataclass
class Repo:
    private: bool
    gated: str | bool = False
    files: dict[str, bytes] = field(default_factory=dict)
    commits: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args) -> None:  # quiet
        pass

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _reply(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        stub = self.server.stub
        stub.authorizations.append(self.headers.get("Authorization", ""))
        body = self._body()
        if self.path == "/api/repos/create":
            return self._create(json.loads(body))
        if self.path == "/api/validate-yaml":  # the card's metadata, checked before a commit with README.md
            stub.validated_cards.append(json.loads(body).get("content", ""))
            return self._reply(200, {"errors": [], "warnings": []})
        match = REPO_ACTION.fullmatch(self.path)
        if not match or match[1] not in stub.repos:
            return self._reply(404, {"error": f"not found: {self.path}"})
        repo, action = stub.repos[match[1]], match[2]
        if action == "preupload":
            files = [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                     for f in json.loads(body)["files"]]  # fmt: skip
            return self._reply(200, {"files": files})
        if action == "commit":
            return self._commit(match[1], repo, body)
        repo.tags[json.loads(body)["tag"]] = match[3]
        return self._reply(200, {})

    def _create(self, request: dict) -> None:
        repos = self.server.stub.repos
        name = request["name"]
        repo_id = f"{request['organization']}/{name}" if request.get("organization") else name
        url = f"http://{self.headers['Host']}/datasets/{repo_id}"
        if repo_id in repos:  # the Hub answers 409 with the repo's url
            return self._reply(409, {"error": "You already created this dataset repo", "url": url})
        repos[repo_id] = Repo(private=bool(request.get("private")))
        return self._reply(200, {"url": url})

    def _commit(self, repo_id: str, repo: Repo, body: bytes) -> None:
        for line in body.decode().splitlines():
            item = json.loads(line)
            if item["key"] == "file":
                repo.files[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
            elif item["key"] == "deletedFile":
                repo.files.pop(item["value"]["path"], None)
        state = sorted((path, hashlib.sha1(data).hexdigest()) for path, data in repo.files.items())
        oid = hashlib.sha1(repr(state).encode()).hexdigest()
        repo.commits.append(oid)
        url = f"http://{self.headers['Host']}/datasets/{repo_id}/commit/{oid}"
        return self._reply(200, {"commitUrl": url, "commitOid": oid})

    def do_GET(self) -> None:
        """The recursive tree listing (one page) that ``list_repo_files`` reads."""
        stub = self.server.stub
        match = TREE.fullmatch(self.path)
        if not match or match[1] not in stub.repos:
            return self._reply(404, {"error": f"not found: {self.path}"})
        files = stub.repos[match[1]].files
        entries = [{"type": "file", "path": path, "size": len(data), "oid": hashlib.sha1(data).hexdigest()}
                   for path, data in sorted(files.items())]  # fmt: skip
        data = json.dumps(entries).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        return None

    def do_PUT(self) -> None:
        stub = self.server.stub
        stub.authorizations.append(self.headers.get("Authorization", ""))
        match = SETTINGS.fullmatch(self.path)
        if not match or match[1] not in stub.repos:
            return self._reply(404, {"error": f"not found: {self.path}"})
        stub.repos[match[1]].gated = json.loads(self._body()).get("gated", False)
        return self._reply(200, {})


class _Server(ThreadingHTTPServer):
    stub: HubStub


class HubStub:
    """``with HubStub() as hub:`` serves on ``hub.endpoint`` until the block ends."""

    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.authorizations: list[str] = []
        self.validated_cards: list[str] = []
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.stub = self
        self.endpoint = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> HubStub:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
