from pathlib import Path

import pytest

from retrieval.loaders import LoadError, load_bytes, load_file, load_folder


def make_pdf(text: str, *, title: str = "") -> bytes:
    """A minimal one-page PDF with ``text`` in Helvetica, offsets computed so it is valid."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    info = f"<< /Title ({title}) >>" if title else "<< >>"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        info.encode(),
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\n" % (len(objects) + 1)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def test_markdown_front_matter_gives_title_url_and_tags(tmp_path):
    path = write(
        tmp_path / "account" / "reset-password.md",
        "---\ntitle: Reset your password\nurl: https://help.example/reset\n"
        "tags: [account, login]\n---\n# Ignored heading\n\nOpen Settings.\n",
    )
    doc = load_file(path, root=tmp_path)
    assert doc.doc_id == "account-reset-password"
    assert doc.title == "Reset your password"
    assert doc.url == "https://help.example/reset"
    assert doc.tags == ("account", "login")
    assert doc.format == "md"
    assert doc.body.startswith("# Ignored heading") and "---" not in doc.body


def test_markdown_title_falls_back_to_first_heading_then_file_name(tmp_path):
    headed = write(tmp_path / "a.md", "Intro line.\n\n# Pair a sensor\n\nHold the button.\n")
    plain = write(tmp_path / "pair-a-sensor.md", "Hold the button.\n")
    assert load_file(headed).title == "Pair a sensor"
    assert load_file(plain).title == "pair-a-sensor"
    assert load_file(plain).doc_id == "pair-a-sensor"


def test_markdown_tags_may_be_a_comma_separated_string(tmp_path):
    path = write(tmp_path / "x.md", "---\ntitle: X\ntags: billing, refunds\n---\nText.\n")
    assert load_file(path).tags == ("billing", "refunds")


def test_bad_front_matter_is_a_load_error(tmp_path):
    path = write(tmp_path / "x.md", "---\ntitle: [unclosed\n---\nText.\n")
    with pytest.raises(LoadError, match=r"x\.md: bad YAML front matter"):
        load_file(path)


def test_html_headings_become_markdown_and_page_furniture_is_dropped(tmp_path):
    path = write(
        tmp_path / "hub.html",
        "<html><head><title>Set up the hub</title><style>p { color: red }</style>"
        '<link rel="canonical" href="https://help.example/hub"></head><body>'
        "<nav>Home | Devices</nav><script>track('visit')</script>"
        "<h1>Set up the hub</h1><p>Plug it in.</p><h2>Wi-Fi</h2>"
        "<ul><li>Use 2.4 GHz</li><li>WPA2</li></ul></body></html>",
    )
    doc = load_file(path)
    assert doc.title == "Set up the hub"
    assert doc.url == "https://help.example/hub"
    assert doc.format == "html"
    assert "# Set up the hub" in doc.body and "\n## Wi-Fi\n" in doc.body
    assert "- Use 2.4 GHz" in doc.body
    for dropped in ("track(", "color: red", "Home | Devices"):
        assert dropped not in doc.body


def test_html_title_falls_back_to_h1(tmp_path):
    path = write(tmp_path / "page.htm", "<body><h1>Warranty <em>terms</em></h1><p>Two years.</p>")
    assert load_file(path).title == "Warranty terms"


def test_text_file(tmp_path):
    path = write(tmp_path / "notes" / "opening-hours.txt", "We open at nine.\n")
    doc = load_file(path, root=tmp_path)
    assert (doc.doc_id, doc.title, doc.body, doc.format) == (
        "notes-opening-hours",
        "opening-hours",
        "We open at nine.",
        "txt",
    )


def test_pdf_text_and_title(tmp_path):
    path = write(tmp_path / "manual.pdf", make_pdf("Press the reset button", title="Manual"))
    doc = load_file(path)
    assert doc.format == "pdf"
    assert doc.title == "Manual"
    assert "Press the reset button" in doc.body


def test_broken_pdf_names_the_file_and_the_reason(tmp_path):
    path = write(tmp_path / "broken.pdf", b"%PDF-1.4\nthis is not a pdf at all")
    with pytest.raises(LoadError) as raised:
        load_file(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert "PDF" in raised.value.reason


def test_empty_file_is_a_load_error(tmp_path):
    with pytest.raises(LoadError, match="empty file"):
        load_file(write(tmp_path / "empty.md", "  \n"))


def test_bad_utf8_is_a_load_error(tmp_path):
    with pytest.raises(LoadError, match=r"latin\.txt: not UTF-8"):
        load_file(write(tmp_path / "latin.txt", "caf\u00e9".encode("latin-1")))


def test_unsupported_suffix_is_a_load_error(tmp_path):
    with pytest.raises(LoadError, match="unsupported file type .docx"):
        load_file(write(tmp_path / "x.docx", b"PK"))


def test_load_folder_skips_root_readme_and_collects_errors(tmp_path):
    write(tmp_path / "README.md", "# About this folder\n")
    write(tmp_path / "billing" / "README.md", "# Billing overview\n\nPlans.\n")
    write(tmp_path / "billing" / "refunds.md", "# Refunds\n\nWithin 30 days.\n")
    write(tmp_path / "broken.pdf", b"%PDF-1.4 junk")
    write(tmp_path / "empty.txt", "")
    write(tmp_path / "logo.png", b"\x89PNG")
    write(tmp_path / ".drafts" / "secret.md", "# Draft\n\nNot yet.\n")
    write(tmp_path / "billing" / "refunds.txt", "Within 30 days.\n")
    docs, errors = load_folder(tmp_path)
    assert sorted(doc.doc_id for doc in docs) == ["billing-README", "billing-refunds"]
    names = sorted(Path(error.name).name for error in errors)
    assert names == ["broken.pdf", "empty.txt", "refunds.txt"]
    duplicate = next(e for e in errors if e.name.endswith("refunds.txt"))
    assert duplicate.reason.startswith("same document id as") and "refunds.md" in duplicate.reason


def test_load_bytes_decides_the_type_by_content():
    pdf = load_bytes("Scan 01.txt", make_pdf("Return within 30 days"))
    assert (pdf.format, pdf.doc_id) == ("pdf", "scan-01")
    html = load_bytes("page.txt", b"<!DOCTYPE html><title>Returns</title><p>Thirty days.</p>")
    assert (html.format, html.title) == ("html", "Returns")
    md = load_bytes("returns.md", b"---\ntitle: Returns\n---\nThirty days.\n")
    assert (md.format, md.title) == ("md", "Returns")
    assert load_bytes("notes.txt", b"Thirty days.").format == "txt"


def test_load_bytes_rejects_content_that_does_not_match():
    with pytest.raises(LoadError, match=r"fake\.pdf: named \.pdf but the content is not a PDF"):
        load_bytes("fake.pdf", b"<html><script>alert(1)</script></html>")
    with pytest.raises(LoadError, match="not UTF-8"):
        load_bytes("blob.md", bytes(range(128, 256)))
    with pytest.raises(LoadError, match="empty file"):
        load_bytes("empty.md", b"")
