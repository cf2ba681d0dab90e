import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings

from retrieval.embeddings import make_embeddings


def test_local_vectors_are_unit_length_and_queries_match_documents(embeddings):
    assert isinstance(embeddings, Embeddings)
    docs = np.array(embeddings.embed_documents(["Reset your password", "Track your parcel"]))
    assert docs.shape == (2, 384)
    assert np.allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-4)
    query = np.array(embeddings.embed_query("Reset your password"))
    assert np.allclose(query, docs[0], atol=1e-4)


def test_local_similarity_follows_meaning(embeddings):
    query = np.array(embeddings.embed_query("I can't remember my login password"))
    near, far = np.array(embeddings.embed_documents(["How to reset a password", "Shipping rates"]))
    assert query @ near > query @ far + 0.2


def test_repeated_queries_are_served_from_the_cache(embeddings):
    first = embeddings.embed_query("where is my order #4412")
    hits_before = embeddings._query.cache_info().hits
    second = embeddings.embed_query("where is my order #4412")
    assert second == first
    assert embeddings._query.cache_info().hits == hits_before + 1
    second[0] = 99.0  # callers get their own list: the cached vector stays intact
    assert embeddings.embed_query("where is my order #4412") == first


def test_unknown_kind_is_rejected():
    with pytest.raises(ValueError, match="unknown embeddings kind 'bert'"):
        make_embeddings("bert")


class _EmbeddingsServer:
    """An OpenAI-compatible /v1/embeddings endpoint on localhost (the remote-model fake)."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format, *args):  # keep test output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(body)
                data = [
                    {"object": "embedding", "index": i, "embedding": [float(len(text)), 1.0]}
                    for i, text in enumerate(body["input"])
                ]
                payload = json.dumps(
                    {"object": "list", "data": data, "model": body["model"], "usage": {}}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"


def test_openai_embeddings_send_text_to_the_configured_endpoint():
    server = _EmbeddingsServer()
    try:
        remote = make_embeddings(
            "openai", base_url=server.base_url, api_key="sk-test", model="nomic-embed"
        )
        vectors = remote.embed_documents(["abc", "hello"])
        assert vectors == [[3.0, 1.0], [5.0, 1.0]]
        # Plain strings, not tiktoken ids: self-hosted servers only understand text.
        assert server.requests[0]["input"] == ["abc", "hello"]
        assert server.requests[0]["model"] == "nomic-embed"
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
