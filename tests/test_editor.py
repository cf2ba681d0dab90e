import io
import re
import threading
import time
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bot.answering.engine import make_answer_engine
from bot.answering.turns import answer_turn, make_policy
from bot.app import create_app
from bot.chat.models import Base as BotBase
from bot.config import Settings
from bot.db import make_engine, make_sessionmaker, session_scope
from bot.staff.auth import require_roles
from bot.staff.routes import make_auth_router, make_templates
from bot.staff.users import create_user
from retrieval.editor import make_editor_router
from retrieval.importer import Importer
from retrieval.index import KnowledgeIndex
from retrieval.models import Base as KbBase
from retrieval.publishing import Publisher
from tests.test_loaders import make_pdf  # a real, minimal PDF with a text layer

PASSWORD = "correct horse battery"
JSON = {"accept": "application/json"}
PAGE = {"accept": "text/html"}
MAX_UPLOAD = 20_000
KB = {
    "returns.md": "---\ntags: [orders]\n---\n# Returns\n\nSend a parcel back within 30 days "
    "of delivery for a full refund.",
    "shipping.md": "# Shipping\n\nWe ship to every country in Europe within five working days.",
    "passwords.md": "# Reset your password\n\nOpen Settings, choose Security, then Reset.",
}
ARTICLE = {
    "doc_id": "gift-cards",
    "title": "Gift cards",
    "body": "# Gift cards\n\nTidewater gift cards never expire and can pay for any order.",
    "tags": ["billing"],
}


def make_app(settings: Settings, embeddings) -> FastAPI:
    """The editor on a small staff app: the real sign-in, roles, store, index and engine."""
    database = make_engine(settings.sqlalchemy_url)
    BotBase.metadata.create_all(database)
    KbBase.metadata.create_all(database)
    sessions = make_sessionmaker(database)
    index = KnowledgeIndex(embeddings=embeddings, persist_dir=settings.chroma_dir)
    # As in the app's lifespan: fill the store and the index first, then build the engine.
    Publisher(sessionmaker=sessions, index=index).start(settings.kb_dir)
    engine = make_answer_engine(settings, index=index, embeddings=embeddings)
    assert engine.index is index
    policy = make_policy(settings, engine.calibration)

    async def test_question(question: str):
        return await answer_turn(engine=engine, policy=policy, question=question, history=())

    app = FastAPI()
    app.state.settings, app.state.sessionmaker, app.state.index = settings, sessions, index
    app.state.database = database
    app.state.clock = time.time
    templates = make_templates()
    app.include_router(make_auth_router(templates=templates))
    app.include_router(
        make_editor_router(
            require_editor=require_roles("editor"),
            templates=templates,
            sessionmaker=lambda: app.state.sessionmaker,
            index=lambda: app.state.index,
            test_question=test_question,
            max_upload_bytes=MAX_UPLOAD,
            # The help centre of the import tests is served on 127.0.0.1.
            importer=Importer(max_bytes=MAX_UPLOAD, allow_private=True),
        )
    )
    with session_scope(sessions) as session:
        for name, role in [("ana", "agent"), ("eve", "editor"), ("root", "admin")]:
            email = f"{name}@x.com"
            create_user(session=session, email=email, name=name, password=PASSWORD, roles=[role])
    return app


@pytest.fixture
def app(tmp_path, embeddings) -> Iterator[FastAPI]:
    kb_dir = tmp_path / "kb"
    kb_dir.mkdir()
    for name, text in KB.items():
        (kb_dir / name).write_text(text)
    app = make_app(Settings(data_dir=tmp_path, kb_dir=kb_dir, secret_key="s" * 40), embeddings)
    yield app
    app.state.database.dispose()


@pytest.fixture
def anonymous(app) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def sign_in(client: TestClient, email: str) -> TestClient:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    data = {"email": email, "password": PASSWORD, "csrf_token": token}
    assert client.post("/login", data=data, follow_redirects=False).status_code == 303
    page = client.get("/kb", headers=PAGE)
    if page.status_code == 200:
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
        client.headers["X-CSRF-Token"] = csrf
    return client


@pytest.fixture
def editor(anonymous) -> TestClient:
    return sign_in(anonymous, "eve@x.com")


def chunk_ids(app, doc_id: str) -> list[str]:
    return [h.chunk_id for h in app.state.index.search("anything", k=50) if h.doc_id == doc_id]


def test_anonymous_gets_401_or_a_sign_in_redirect_and_an_agent_gets_403(anonymous):
    assert anonymous.get("/api/kb/documents", headers=JSON).status_code == 401
    page = anonymous.get("/kb", headers=PAGE, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Fkb"
    agent = sign_in(anonymous, "ana@x.com")
    for path in ["/api/kb/documents", "/kb", "/kb/test", "/kb/docs/returns/history"]:
        assert agent.get(path, headers=JSON).status_code == 403
    assert agent.post("/api/kb/documents", json=ARTICLE).status_code == 403


def test_an_admin_can_edit_and_writes_need_the_csrf_token(anonymous):
    admin = sign_in(anonymous, "root@x.com")
    token = admin.headers.pop("X-CSRF-Token")
    assert admin.post("/api/kb/documents", json=ARTICLE).status_code == 403
    assert admin.get("/api/kb/documents/gift-cards").status_code == 404  # nothing was saved
    created = admin.post("/api/kb/documents", json=ARTICLE, headers={"X-CSRF-Token": token})
    assert created.status_code == 201


def test_the_first_start_imports_the_kb_folder_and_indexes_it(editor):
    docs = editor.get("/api/kb/documents", params={"sort": "title"}).json()
    assert [d["doc_id"] for d in docs] == ["passwords", "returns", "shipping"]
    assert all(d["version"] == 1 and d["index_state"] == "indexed" for d in docs)
    assert all(d["chunk_count"] == 1 for d in docs)
    assert editor.get("/api/kb/documents", params={"tag": "orders"}).json()[0]["doc_id"] == (
        "returns"
    )
    later = editor.get("/api/kb/documents", params={"updated_since": "2999-01-01T00:00:00Z"})
    assert later.json() == []
    page = editor.get("/kb", params={"since": "2999-01-01", "tag": "orders"}, headers=PAGE)
    assert "No documents match." in page.text


def test_a_save_reindexes_only_that_document_and_the_bot_finds_the_new_version(app, editor):
    before = {d: chunk_ids(app, d) for d in ("returns", "shipping", "passwords")}
    created = editor.post("/api/kb/documents", json=ARTICLE)
    assert created.status_code == 201
    body = created.json()
    assert body["changed"] and body["document"]["version"] == 1
    assert body["index"] == {
        "added": 1,
        "updated": 0,
        "deleted": 0,
        "unchanged": 0,
        "chunks_embedded": 1,
        "chunks_deleted": 0,
    }
    assert editor.post("/api/kb/documents", json=ARTICLE).status_code == 409

    new_text = ARTICLE | {"body": "# Gift cards\n\nGift cards expire after 24 months. Sorry."}
    updated = editor.put("/api/kb/documents/gift-cards", json=new_text).json()
    assert updated["document"]["version"] == 2
    assert updated["index"]["updated"] == 1 and updated["index"]["chunks_embedded"] == 1
    assert updated["index"]["chunks_deleted"] == 1 and updated["index"]["added"] == 0
    same = editor.put("/api/kb/documents/gift-cards", json=new_text).json()
    assert not same["changed"] and same["document"]["version"] == 2
    assert same["index"]["unchanged"] == 1 and same["index"]["chunks_embedded"] == 0
    # The other documents were left alone.
    assert {d: chunk_ids(app, d) for d in before} == before
    [hit] = app.state.index.search("when do gift cards expire", k=1)
    assert (hit.doc_id, hit.version) == ("gift-cards", 2) and "24 months" in hit.text


def test_a_save_based_on_an_old_version_is_refused_not_overwriting(editor):
    editor.post("/api/kb/documents", json=ARTICLE)
    mine = ARTICLE | {"body": "# Gift cards\n\nMine.", "base_version": 1}
    theirs = ARTICLE | {"body": "# Gift cards\n\nTheirs.", "base_version": 1}
    first = editor.put("/api/kb/documents/gift-cards", json=theirs)
    assert first.json()["document"]["version"] == 2
    late = editor.put("/api/kb/documents/gift-cards", json=mine)
    assert late.status_code == 409 and "saved as version 2 after you opened version 1" in late.text
    assert editor.get("/api/kb/documents/gift-cards").json()["body"].endswith("Theirs.")
    form = {"title": "Gift cards", "url": "", "tags": "", "body": "Mine, from the page."}
    page = editor.post("/kb/docs/gift-cards", data=form | {"base_version": "1"})
    assert page.status_code == 409 and "Mine, from the page." in page.text
    assert "saved as version 2 after you opened version 1" in page.text
    saved = editor.post("/kb/docs/gift-cards", data=form | {"base_version": "2"})
    assert saved.status_code == 200 and "Saved as version 3 and indexed." in saved.text


def test_versions_diff_and_restore_of_any_version(app, editor):
    editor.post("/api/kb/documents", json=ARTICLE)
    editor.put("/api/kb/documents/gift-cards", json=ARTICLE | {"body": "# Gift cards\n\nGone."})
    versions = editor.get("/api/kb/documents/gift-cards/versions").json()
    assert [(v["version"], v["author"]) for v in versions] == [(2, "eve@x.com"), (1, "eve@x.com")]
    first = editor.get("/api/kb/documents/gift-cards/versions/1").json()
    assert first["body"] == ARTICLE["body"]
    diff = editor.get("/api/kb/documents/gift-cards/diff", params={"a": 1, "b": 2}).json()
    assert "-Tidewater gift cards never expire" in diff["unified"] and "+Gone." in diff["unified"]
    restored = editor.post("/api/kb/documents/gift-cards/versions/1/restore").json()
    assert restored["document"]["version"] == 3 and restored["index"]["updated"] == 1
    detail = editor.get("/api/kb/documents/gift-cards").json()
    assert (detail["version"], detail["body"]) == (3, ARTICLE["body"])
    [hit] = app.state.index.search("gift cards never expire", k=1)
    assert (hit.doc_id, hit.version) == ("gift-cards", 3)
    assert editor.get("/api/kb/documents/gift-cards/versions/9").status_code == 404
    assert editor.post("/api/kb/documents/nope/versions/1/restore").status_code == 404


def test_version_numbers_past_64_bits_are_422_not_500(editor):
    editor.post("/api/kb/documents", json=ARTICLE)
    for version in (2**63, 2**64, 0):
        api = "/api/kb/documents/gift-cards"
        assert editor.get(f"{api}/versions/{version}").status_code == 422
        assert editor.post(f"{api}/versions/{version}/restore").status_code == 422
        assert editor.get(f"{api}/diff", params={"a": 1, "b": version}).status_code == 422
        page = "/kb/docs/gift-cards"
        assert editor.get(f"{page}/diff", params={"a": version, "b": 1}).status_code == 422
        assert editor.post(f"{page}/versions/{version}/restore").status_code == 422
    assert editor.get("/api/kb/documents/gift-cards/versions/1").status_code == 200


def test_delete_takes_a_document_out_of_the_index_and_restore_puts_it_back(app, editor):
    deleted = editor.delete("/api/kb/documents/shipping").json()
    assert deleted["deleted"] and deleted["index_state"] == "removed"
    assert "shipping" not in app.state.index.doc_ids
    live = [d["doc_id"] for d in editor.get("/api/kb/documents").json()]
    assert live == [d for d in live if d != "shipping"] and len(live) == 2
    gone = editor.get("/api/kb/documents", params={"deleted": True}).json()
    assert [d["doc_id"] for d in gone] == ["shipping"]
    back = editor.post("/api/kb/documents/shipping/restore").json()
    assert back["document"]["index_state"] == "indexed" and back["index"]["added"] == 1
    assert "shipping" in app.state.index.doc_ids


HOSTILE_HTML = (
    b"<!doctype html><html><head><title>Store hours</title><script>steal()</script></head>"
    b"<body><h1>Store hours</h1><p onclick='steal()'>Open 9 to 5 on weekdays.</p>"
    b"<a href='javascript:steal()'>more</a></body></html>"
)


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _upload(client: TestClient, *files: tuple[str, bytes], path: str = "/api/kb/uploads"):
    return client.post(path, files=[("files", f) for f in files])


def test_uploads_are_sanitised_and_zips_keep_their_folder_ids(app, editor):
    pdf = make_pdf("Hold the button for ten seconds to reset the hub.", title="Hub reset")
    files = [("hours.html", HOSTILE_HTML), ("faq.txt", b"Ask us anything."), ("reset.pdf", pdf)]
    saved = _upload(editor, *files)
    assert saved.status_code == 200, saved.text
    documents = [s["document"] for s in saved.json()["saved"]]
    assert [(d["doc_id"], d["format"]) for d in documents] == [
        ("hours", "html"),
        ("faq", "txt"),
        ("reset", "pdf"),
    ]
    hours = editor.get("/api/kb/documents/hours").json()
    assert hours["format"] == "html" and "Open 9 to 5 on weekdays." in hours["body"]
    assert "steal" not in hours["body"]
    archive = _zip({"guides/setup.md": b"# Setup\n\nPlug it in.", "__MACOSX/._x.md": b"junk"})
    zipped = _upload(editor, ("help.zip", archive)).json()
    assert [s["document"]["doc_id"] for s in zipped["saved"]] == ["guides-setup"]
    assert "guides-setup" in app.state.index.doc_ids


BOMB = _zip({"bomb.md": b"a" * 5_000_000})


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        ([("ok.md", b"# Fine\n\nFine."), ("empty.md", b"")], "empty.md: empty file"),
        ([("scan.pdf", b"%PDF-1.4 broken")], "scan.pdf: unreadable PDF"),
        ([("fake.pdf", b"# not a pdf")], "fake.pdf: named .pdf but the content is not a PDF"),
        ([("big.md", b"# Big\n\n" + b"x" * MAX_UPLOAD)], "big.md: larger than the 20000 byte"),
        ([("evil.zip", _zip({"../../etc/x.md": b"# X\n\nx"}))], "evil.zip: unsafe path"),
        ([("bomb.zip", BOMB)], "bomb.zip: bomb.md is compressed suspiciously well"),
        ([("bin.md", b"\xff\xfe\xfa")], "bin.md: not UTF-8"),
    ],
)
def test_broken_uploads_get_a_clear_message_and_change_nothing(app, editor, files, problem):
    before = editor.get("/api/kb/documents").json()
    chunks = len(app.state.index)
    response = _upload(editor, *files)
    assert response.status_code == 422
    messages = [f"{p['name']}: {p['reason']}" for p in response.json()["detail"]]
    assert any(m.startswith(problem) for m in messages), messages
    assert editor.get("/api/kb/documents").json() == before
    assert len(app.state.index) == chunks
    page = _upload(editor, *files, path="/kb/upload")
    assert page.status_code == 422 and "Nothing was saved." in page.text


class _HelpCenter(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        host = f"http://{self.headers['Host']}"
        pages = {
            "/sitemap.xml": (
                "application/xml",
                f"<urlset><url><loc>{host}/hours</loc></url>"
                f"<url><loc>{host}/gone</loc></url></urlset>".encode(),
            ),
            "/hours": ("text/html", HOSTILE_HTML),
        }
        kind, body = pages.get(self.path, ("text/plain", b""))
        self.send_response(200 if self.path in pages else 404)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args) -> None:
        pass


@pytest.fixture
def help_center() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HelpCenter)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_import_from_a_sitemap_saves_the_pages_and_lists_the_failures(app, editor, help_center):
    result = editor.post(
        "/api/kb/imports", json={"url": f"{help_center}/sitemap.xml", "sitemap": True}
    )
    assert result.status_code == 200
    body = result.json()
    assert [s["document"]["doc_id"] for s in body["saved"]] == ["hours"]
    assert body["saved"][0]["document"]["url"] == f"{help_center}/hours"
    assert body["problems"] == [{"name": f"{help_center}/gone", "reason": "HTTP status 404"}]
    assert "steal" not in editor.get("/api/kb/documents/hours").json()["body"]
    assert "hours" in app.state.index.doc_ids
    failed = editor.post("/api/kb/imports", json={"url": f"{help_center}/gone"})
    assert failed.status_code == 422 and failed.json()["detail"][0]["reason"] == "HTTP status 404"
    page = editor.post("/kb/import", data={"url": "javascript:alert(1)"})
    assert page.status_code == 422 and "only http:// and https:// URLs" in page.text


def test_an_oversized_request_is_refused_before_it_is_read(editor):
    response = _upload(editor, ("huge.md", b"x" * (MAX_UPLOAD + 70_000)))
    assert response.status_code == 413 and "larger than the" in response.json()["detail"]


def test_test_a_question_shows_every_step_of_the_widgets_turn(editor):
    report = editor.post("/api/kb/test", json={"question": "How do I send a parcel back?"}).json()
    assert report["condensed"] and report["kind"] == "retrieval"
    assert report["hits"], report
    top = report["hits"][0]
    assert top["doc_id"] == "returns" and top["version"] == 1
    assert {"score", "dense_score", "bm25_score", "dense_rank", "bm25_rank"} <= set(top)
    assert 0 <= report["confidence"] <= 1 and report["signals"]
    assert report["action"] in ("answer", "handoff", "clarify") and "detail" in report
    assert "30 days" in report["answer"]
    assert report["citations"][0]["doc_id"] == "returns"
    page = editor.post("/kb/test", data={"question": "How do I send a parcel back?"})
    assert page.status_code == 200
    assert 'id="kb-action"' in page.text and "Returns</a> v1" in page.text


def test_the_pages_create_edit_show_history_and_diff_escaped(app, editor):
    assert "Returns" in editor.get("/kb", headers=PAGE).text
    form = {"doc_id": "hours", "title": "Hours", "url": "", "tags": "store, time", "body": "Open."}
    created = editor.post("/kb/new", data=form, follow_redirects=False)
    assert created.status_code == 303
    assert created.headers["location"] == "/kb/docs/hours?notice=saved&v=1"
    assert "Saved as version 1 and indexed." in editor.get(created.headers["location"]).text
    hostile = form | {"body": "Open <script>alert(1)</script> [x](javascript:alert(1))"}
    editor.post("/kb/docs/hours", data=hostile)
    page = editor.get("/kb/docs/hours").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert 'href="javascript:' not in page
    history = editor.get("/kb/docs/hours/history").text
    assert "v2 (current)" in history and "Restore v1" in history
    diff = editor.get("/kb/docs/hours/diff", params={"a": 1, "b": 2}).text
    assert "&lt;script&gt;" in diff and "<script>alert" not in diff
    bad = editor.post("/kb/new", data=form | {"doc_id": "../etc"})
    assert bad.status_code == 422 and "doc_id" in bad.text
    assert editor.post("/kb/new", data=form).status_code == 409
    restored = editor.post("/kb/docs/hours/versions/1/restore", follow_redirects=False)
    assert restored.headers["location"] == "/kb/docs/hours?notice=restored&v=3"
    assert "Open." == editor.get("/api/kb/documents/hours").json()["body"]
    assert editor.post("/kb/docs/hours/delete").status_code == 200
    assert "hours" not in app.state.index.doc_ids


def test_the_preview_renders_markdown_without_raw_html(editor):
    html = editor.post("/api/kb/preview", json={"markdown": "**hi** <img src=x onerror=x()>"})
    assert html.json()["html"] == "<p><strong>hi</strong> &lt;img src=x onerror=x()&gt;</p>\n"


def test_the_api_is_in_the_openapi_spec(anonymous):
    spec = anonymous.get("/openapi.json").json()
    assert {"DocumentCreate", "DocumentPublic", "SaveResult", "QuestionReport"} <= set(
        spec["components"]["schemas"]
    )
    assert "/api/kb/documents/{doc_id}/versions/{version}/restore" in spec["paths"]
    assert (
        "multipart/form-data" in spec["paths"]["/api/kb/uploads"]["post"]["requestBody"]["content"]
    )
    assert not any(path.startswith("/kb") for path in spec["paths"])


# --- the editor inside the whole app: the widget's REST twin answers from the saved text ---
GIFT_QUESTION = "Do Tidewater gift cards expire?"


def _ask(client: TestClient, question: str) -> dict:
    conversation = client.post("/api/conversations", json={}).json()
    reply = client.post(
        f"/api/conversations/{conversation['conversation_id']}/messages",
        json={"client_id": "c1", "text": question},
        headers={"Authorization": f"Bearer {conversation['token']}"},
    )
    assert reply.status_code == 201, reply.text
    [answer] = [m for m in reply.json()["replies"] if m["role"] == "bot"]
    return answer


def test_in_the_app_a_saved_article_answers_the_widget_at_once_citing_its_version(
    chat_settings, tmp_path
):
    kb_dir = tmp_path / "kb"
    kb_dir.mkdir()
    for name, text in KB.items():
        (kb_dir / name).write_text(text)
    with TestClient(create_app(chat_settings(kb_dir=kb_dir))) as client:
        app = client.app
        with session_scope(app.state.sessionmaker) as session:
            create_user(
                session=session, email="eve@x.com", name="Eve", password=PASSWORD, roles=["editor"]
            )
        imported = {
            d["doc_id"]: d["version"]
            for d in sign_in(client, "eve@x.com").get("/api/kb/documents").json()
        }
        assert imported == {"passwords": 1, "returns": 1, "shipping": 1}

        assert client.put("/api/kb/documents/gift-cards", json=ARTICLE).status_code == 200
        first = _ask(client, GIFT_QUESTION)
        assert "never expire" in first["text"]
        assert {"doc_id": "gift-cards", "version": 1} in [
            {"doc_id": c["doc_id"], "version": c["version"]} for c in first["citations"]
        ]

        edited = ARTICLE | {"body": "# Gift cards\n\nTidewater gift cards expire after 24 months."}
        saved = client.put("/api/kb/documents/gift-cards", json=edited).json()
        assert saved["index"]["chunks_embedded"] == 1 and saved["index"]["unchanged"] == 0
        # No waiting: the save returns once the index holds the new text.
        second = _ask(client, GIFT_QUESTION)
        assert "24 months" in second["text"] and "never expire" not in second["text"]
        assert [(c["doc_id"], c["version"]) for c in second["citations"]][0] == ("gift-cards", 2)
