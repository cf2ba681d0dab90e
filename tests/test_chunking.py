from retrieval.chunking import chunk_document
from retrieval.documents import Document

BODY = """# Reset your password

If you forgot it, use the link on the sign-in page.

## By email

We send a link that works for one hour.

### Link expired

Ask for a new link; the old one stops working.

## By phone

Call support and confirm your identity.
"""


def make_doc(body: str = BODY, **fields) -> Document:
    values = {
        "doc_id": "account-reset-password",
        "title": "Reset your password",
        "body": body,
        "url": "https://help.example/reset",
        "version": 3,
    }
    return Document(**{**values, **fields})


def test_chunks_follow_headings_and_keep_document_fields():
    chunks = chunk_document(make_doc())
    assert [c.heading_path for c in chunks] == [
        (),
        ("By email",),
        ("By email", "Link expired"),
        ("By phone",),
    ]
    assert [c.position for c in chunks] == [0, 1, 2, 3]
    assert len({c.chunk_id for c in chunks}) == 4
    for chunk in chunks:
        assert chunk.doc_id == "account-reset-password"
        assert chunk.title == "Reset your password"
        assert chunk.url == "https://help.example/reset"
        assert chunk.version == 3
    assert chunks[2].text == "Ask for a new link; the old one stops working."


def test_title_and_heading_path_are_embedded_with_the_text():
    chunk = chunk_document(make_doc())[2]
    assert chunk.embed_text == (
        "Reset your password > By email > Link expired\n\n"
        "Ask for a new link; the old one stops working."
    )


def test_a_long_section_is_split_by_size_with_overlap():
    sentences = " ".join(f"Sentence number {i} explains one more step." for i in range(60))
    chunks = chunk_document(make_doc(f"## Steps\n\n{sentences}\n"), size=300, overlap=60)
    assert len(chunks) > 5
    assert all(len(c.text) <= 300 for c in chunks)
    assert all(c.heading_path == ("Steps",) for c in chunks)
    # Overlap: each chunk starts with words the previous one ended with.
    assert chunks[1].text.split()[0] in chunks[0].text.split()[-12:]


def test_paragraph_breaks_are_preferred_split_points():
    first, second = "a" * 250 + ".", "b" * 250 + "."
    chunks = chunk_document(make_doc(f"{first}\n\n{second}\n"), size=400, overlap=50)
    assert [c.text for c in chunks] == [first, second]


def test_a_body_of_headings_alone_still_gives_a_chunk():
    chunks = chunk_document(make_doc("# Reset your password\n"))
    assert len(chunks) == 1
    assert "Reset your password" in chunks[0].text
