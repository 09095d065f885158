"""A local stand-in for the Hugging Face hub's HTTP API, serving one model repository from a folder, so that a download
the user allowed runs through huggingface_hub's real client here, where the hub cannot be reached. It answers what
``snapshot_download`` asks, as the hub answers it: the revision's commit (/api/models/ID/revision/REV), the file tree
(/api/models/ID/tree/COMMIT), and each file (HEAD and GET /ID/resolve/COMMIT/NAME with X-Repo-Commit and ETag: the
git blob id, as the hub sends for files kept outside LFS)."""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse


def _git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def serve(repo_id: str, commit: str, folder: Path, gated: tuple[str, ...] = ()) -> ThreadingHTTPServer:
    """Serves ``folder``'s files as ``repo_id`` at ``commit`` on 127.0.0.1 (server.server_port) until shutdown().
    Any other model is missing (404, RepoNotFound), except those in ``gated``: refused without access (403,
    GatedRepo), as the hub answers an anonymous request."""
    files = {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}
    revision = f"/api/models/{repo_id}/revision/"
    tree = f"/api/models/{repo_id}/tree/"
    resolve = f"/{repo_id}/resolve/"

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet: pytest shows the test's own output
            pass

        def do_HEAD(self):
            self._answer(with_body=False)

        def do_GET(self):
            self._answer(with_body=True)

        def _answer(self, with_body: bool) -> None:
            path = urlparse(self.path).path
            other = path.removeprefix("/api/models/").split("/revision/")[0]
            if path.startswith("/api/models/") and not path.startswith(revision) and not path.startswith(tree):
                code, status = ("GatedRepo", 403) if other in gated else ("RepoNotFound", 404)
                return self._send(b"", {"X-Error-Code": code, "X-Error-Message": code}, with_body, status=status)
            if path.startswith(revision):
                body, headers = {"id": repo_id, "sha": commit, "siblings": [{"rfilename": n} for n in files]}, {}
            elif path.startswith(tree):
                body = [{"type": "file", "path": n, "size": len(b), "oid": _git_blob_id(b)} for n, b in files.items()]
                headers = {}
            elif path.startswith(resolve) and path[len(resolve) :].split("/", 1)[-1] in files:
                data = files[path[len(resolve) :].split("/", 1)[-1]]
                return self._send(data, {"X-Repo-Commit": commit, "ETag": f'"{_git_blob_id(data)}"'}, with_body)
            else:
                return self._send(b"", {"X-Error-Code": "EntryNotFound"}, with_body, status=404)
            self._send(json.dumps(body).encode(), {"Content-Type": "application/json", **headers}, with_body)

        def _send(self, data: bytes, headers: dict, with_body: bool, status: int = 200) -> None:
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(data))}.items():
                self.send_header(name, value)
            self.end_headers()
            if with_body:
                self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
