"""A small stand-in for the Hugging Face Hub's HTTP API on loopback, for ``HF_ENDPOINT``.

Writes: what ``HfApi.create_repo``, ``update_repo_settings``, ``upload_folder`` (tree listing for
``delete_patterns``, preupload + NDJSON commit with added and deleted files, every file in
"regular" mode) and ``create_tag`` send. Reads: what ``datasets.load_dataset("<org>/<name>")``
(also streaming) and ``huggingface_hub`` send to resolve a repo: revision info
(``/api/datasets/<id>/revision/<rev>``), the tree listing of a path (recursive or not), paths-info,
and file resolve (HEAD and GET, with byte ranges) at ``main``, a tag or a commit. Gated and private
repos answer 401 / 404 with the Hub's ``X-Error-Code`` to a request without an accepted token.

Not covered: LFS and Xet transfers (every file is stored and served inline, as "regular" files),
pagination of long listings, the auto-converted Parquet branch, access requests. Repos live in
memory; each request's Authorization header is recorded, so tests exercise the real client code.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

REPO_ACTION = re.compile(r"/api/datasets/(.+)/(preupload|commit|tag)/([^/?]+)(\?.*)?")
SETTINGS = re.compile(r"/api/datasets/(.+)/settings")
REPO_ID = r"([^/]+/[^/]+)"
TREE = re.compile(rf"/api/datasets/{REPO_ID}/tree/([^/]+)/?(.*)")
REVISION = re.compile(rf"/api/datasets/{REPO_ID}(?:/revision/([^/]+))?")
PATHS_INFO = re.compile(rf"/api/datasets/{REPO_ID}/paths-info/([^/]+)")
RESOLVE = re.compile(rf"/datasets/{REPO_ID}/resolve/([^/]+)/(.+)")
RANGE = re.compile(r"bytes=(\d+)-(\d*)")


@dataclass
class Repo:
    private: bool
    gated: str | bool = False
    files: dict[str, bytes] = field(default_factory=dict)
    commits: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    snapshots: dict[str, dict[str, bytes]] = field(default_factory=dict)  # commit -> its files

    def at(self, revision: str) -> tuple[str, dict[str, bytes]] | None:
        """(commit, files) at ``main``, a tag or a commit id; None for an unknown revision."""
        commit = (
            self.commits[-1] if revision == "main" and self.commits else self.tags.get(revision, revision)
        )
        return (commit, self.snapshots[commit]) if commit in self.snapshots else None


def _oid(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def _entries(files: dict[str, bytes], folder: str, recursive: bool) -> list[dict]:
    """The tree listing of ``folder`` (files and directories, the Hub's entry fields)."""
    prefix = f"{folder.strip('/')}/" if folder.strip("/") else ""
    entries: dict[str, dict] = {}
    for path, data in sorted(files.items()):
        if not path.startswith(prefix):
            continue
        parts = path[len(prefix) :].split("/")
        depth = len(parts) if recursive else 1
        for i in range(1, min(depth, len(parts) - 1) + 1):
            name = prefix + "/".join(parts[:i])
            entries.setdefault(
                name, {"type": "directory", "path": name, "oid": _oid(name.encode()), "size": 0}
            )
        if len(parts) == 1 or recursive:
            entries[path] = {"type": "file", "path": path, "size": len(data), "oid": _oid(data)}
    return list(entries.values())


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
        if match := PATHS_INFO.fullmatch(urlsplit(self.path).path):
            return self._paths_info(match[1], match[2], body)
        if self.path == "/api/validate-yaml":  # the card's metadata, checked before a commit with README.md
            stub.validated_cards.append(json.loads(body).get("content", ""))
            return self._reply(200, {"errors": [], "warnings": []})
        return self._repo_action(body)

    def _repo_action(self, body: bytes) -> None:
        """preupload, commit and tag of a repo."""
        stub = self.server.stub
        match = REPO_ACTION.fullmatch(self.path)
        if not match or match[1] not in stub.repos:
            return self._reply(404, {"error": f"not found: {self.path}"})
        repo, action = stub.repos[match[1]], match[2]
        if action == "preupload":
            files = [
                {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                for f in json.loads(body)["files"]
            ]
            return self._reply(200, {"files": files})
        if action == "commit":
            return self._commit(match[1], repo, body)
        repo.tags[json.loads(body)["tag"]] = match[3]
        return self._reply(200, {})

    def _paths_info(self, repo_id: str, revision: str, body: bytes) -> None:
        found = self._revision(repo_id, revision)
        if found is None:
            return
        files = found[1]
        form = parse_qs(body.decode()) if body and not body.startswith(b"{") else {}
        paths = form.get("paths") or json.loads(body or b"{}").get("paths", [])
        out = []
        for path in paths:
            if path in files:
                out.append({"type": "file", "path": path, "size": len(files[path]), "oid": _oid(files[path])})
            elif any(f.startswith(f"{path.rstrip('/')}/") for f in files):
                out.append({"type": "directory", "path": path, "oid": _oid(path.encode()), "size": 0})
        self._json(out)

    def _create(self, request: dict) -> None:
        repos = self.server.stub.repos
        name = request["name"]
        repo_id = f"{request['organization']}/{name}" if request.get("organization") else name
        url = f"http://{self.headers['Host']}/datasets/{repo_id}"
        if repo_id in repos:  # the Hub answers 409 with the repo's url
            return self._reply(409, {"error": "You already created this dataset repo", "url": url})
        empty = _oid(b"initial commit")  # the Hub's new repo has a first commit: main resolves at once
        private = bool(request.get("private")) or request.get("visibility") == "private"  # 1.x / 2.x clients
        if owner := self.headers.get("Authorization", "").removeprefix("Bearer "):
            self.server.stub.tokens.add(owner)  # the owner reads its own gated and private repos
        repos[repo_id] = Repo(private=private, commits=[empty], snapshots={empty: {}})
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
        repo.snapshots[oid] = dict(repo.files)
        url = f"http://{self.headers['Host']}/datasets/{repo_id}/commit/{oid}"
        return self._reply(200, {"commitUrl": url, "commitOid": oid})

    def _send(self, status: int, data: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _repo(self, repo_id: str) -> Repo | None:
        """The repo if this request may read it; otherwise answers as the Hub does and returns None."""
        stub = self.server.stub
        repo = stub.repos.get(repo_id)
        authorized = self.headers.get("Authorization", "") in {f"Bearer {t}" for t in stub.tokens}
        if repo is None or (repo.private and not authorized):
            headers = {
                "Content-Type": "application/json",
                "X-Error-Code": "RepoNotFound",
                "X-Error-Message": "Repository not found",
            }
            self._send(404 if repo is None else 401, b'{"error": "Repository not found"}', headers)
            return None
        if repo.gated and not authorized:
            message = f"Access to dataset {repo_id} is restricted. You must be authenticated to access it."
            headers = {
                "Content-Type": "application/json",
                "X-Error-Code": "GatedRepo",
                "X-Error-Message": message,
            }
            self._send(401, json.dumps({"error": message}).encode(), headers)
            return None
        return repo

    def _revision(self, repo_id: str, revision: str) -> tuple[str, dict[str, bytes]] | None:
        repo = self._repo(repo_id)
        if repo is None:
            return None
        found = repo.at(unquote(revision))
        if found is None:
            headers = {"X-Error-Code": "RevisionNotFound", "X-Error-Message": f"Invalid rev id: {revision}"}
            self._send(404, b'{"error": "Invalid rev id"}', headers)
        return found

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        """Tree listings, revision info and file resolve (the read side of the Hub)."""
        self.server.stub.reads.append(self.path)
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if match := TREE.fullmatch(url.path):
            found = self._revision(match[1], match[2])
            if found:
                recursive = query.get("recursive", ["false"])[0] == "true"
                self._json(_entries(found[1], unquote(match[3]), recursive))
            return None
        if match := RESOLVE.fullmatch(url.path):
            return self._resolve(match[1], match[2], unquote(match[3]))
        if match := REVISION.fullmatch(url.path):
            found = self._revision(match[1], match[2] or "main")
            if found:
                repo = self.server.stub.repos[match[1]]
                siblings = [{"rfilename": path, "size": len(data)} for path, data in sorted(found[1].items())]
                self._json(
                    {
                        "id": match[1],
                        "sha": found[0],
                        "private": repo.private,
                        "gated": repo.gated,
                        "disabled": False,
                        "siblings": siblings,
                        "tags": [],
                        "downloads": 0,
                        "likes": 0,
                        "lastModified": "2026-11-30T00:00:00.000Z",
                    }
                )
            return None
        return self._reply(404, {"error": f"not found: {self.path}"})

    def _json(self, payload) -> None:
        self._send(200, json.dumps(payload).encode(), {"Content-Type": "application/json"})

    def _resolve(self, repo_id: str, revision: str, path: str) -> None:
        found = self._revision(repo_id, revision)
        if found is None:
            return
        commit, files = found
        if path not in files:
            headers = {
                "X-Error-Code": "EntryNotFound",
                "X-Error-Message": "Entry not found",
                "X-Repo-Commit": commit,
            }
            return self._send(404, b'{"error": "Entry not found"}', headers)
        data = files[path]
        headers = {
            "ETag": f'"{_oid(data)}"',
            "X-Repo-Commit": commit,
            "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream",
        }
        wanted = RANGE.fullmatch(self.headers.get("Range", ""))
        if wanted is None:
            return self._send(200, data, headers)
        start = int(wanted[1])
        end = min(int(wanted[2]) if wanted[2] else len(data) - 1, len(data) - 1)
        headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
        return self._send(206, data[start : end + 1], headers)

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
        self.tokens: set[str] = set()  # accepted for reading gated and private repos
        self.reads: list[str] = []  # the paths of every read request, in order
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
