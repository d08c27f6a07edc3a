"""Small real .docx/.odt/.epub files built in memory, and zip bombs made from them.

A bomb is a valid document whose one text member repeats a paragraph `repeat` times: deflate
shrinks it about 1000x, so a few kB of file unpack to megabytes of XML.
"""

from __future__ import annotations

import io
import zipfile

STORY = ("The storm broke over the harbour and the boats strained at their ropes. "
         "She watched the lamps go out one by one along the quay, and waited for the tide.")


def _zip(members: dict[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            # The mimetype member comes first and uncompressed, as ODF and EPUB require.
            method = zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED
            archive.writestr(name, content, compress_type=method)
    return buffer.getvalue()


def docx_bytes(paragraphs: int = 3, repeat: int = 1) -> bytes:
    import docx

    document = docx.Document()
    for _ in range(paragraphs):
        document.add_paragraph(STORY)
    buffer = io.BytesIO()
    document.save(buffer)
    if repeat == 1:
        return buffer.getvalue()
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as source:
        members: dict[str, bytes | str] = {info.filename: source.read(info) for info in source.infolist()}
    xml = members["word/document.xml"].decode("utf-8")
    head, rest = xml.split("<w:body>", 1)
    body, tail = rest.split("</w:body>", 1)
    members["word/document.xml"] = f"{head}<w:body>{body * repeat}</w:body>{tail}"
    return _zip(members)


_ODT_CONTENT = ('<?xml version="1.0" encoding="UTF-8"?>'
                '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
                'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
                "<office:body><office:text>{body}</office:text></office:body></office:document-content>")
_ODT_MANIFEST = ('<?xml version="1.0" encoding="UTF-8"?>'
                 '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
                 '<manifest:file-entry manifest:full-path="/" '
                 'manifest:media-type="application/vnd.oasis.opendocument.text"/>'
                 '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
                 "</manifest:manifest>")


def odt_bytes(paragraphs: int = 3, repeat: int = 1) -> bytes:
    body = f"<text:p>{STORY}</text:p>" * paragraphs * repeat
    return _zip({"mimetype": "application/vnd.oasis.opendocument.text",
                 "META-INF/manifest.xml": _ODT_MANIFEST, "content.xml": _ODT_CONTENT.format(body=body)})


_CONTAINER = ('<?xml version="1.0"?><container version="1.0" '
              'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
              '<rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
              "</rootfiles></container>")
_OPF = ('<?xml version="1.0" encoding="UTF-8"?>'
        '<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">'
        '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:identifier id="id">hostile-1</dc:identifier>'
        "<dc:title>Harbour</dc:title><dc:language>en</dc:language></metadata>"
        '<manifest><item id="ch1" href="ch1.xhtml" media-type="application/xhtml+xml"/></manifest>'
        '<spine><itemref idref="ch1"/></spine></package>')
_CHAPTER = ('<?xml version="1.0" encoding="UTF-8"?><html xmlns="http://www.w3.org/1999/xhtml">'
            "<head><title>One</title></head><body>{body}</body></html>")


def epub_bytes(paragraphs: int = 3, repeat: int = 1) -> bytes:
    body = f"<p>{STORY}</p>" * paragraphs * repeat
    return _zip({"mimetype": "application/epub+zip", "META-INF/container.xml": _CONTAINER,
                 "OEBPS/content.opf": _OPF, "OEBPS/ch1.xhtml": _CHAPTER.format(body=body)})


ZIP_DOCUMENTS = {"docx": docx_bytes, "odt": odt_bytes, "epub": epub_bytes}


def rtf_bytes(paragraphs: int = 3) -> bytes:
    return ("{\\rtf1\\ansi{\\fonttbl{\\f0 Times;}}\\f0 " + "\\par ".join([STORY] * paragraphs) + "}").encode()


def html_bytes(paragraphs: int = 3) -> bytes:
    return ("<html><head><style>p {color: red}</style></head><body>"
            + "".join(f"<p>{STORY}<br>again</p>" for _ in range(paragraphs)) + "</body></html>").encode()


def txt_bytes(paragraphs: int = 3) -> bytes:
    return "\n\n".join(["Café — “" + STORY + "”"] * paragraphs).encode("utf-8")


# One small valid file per format: seeds for truncation and mutation.
SAMPLES = {"txt": txt_bytes, "md": txt_bytes, "docx": docx_bytes, "odt": odt_bytes, "rtf": rtf_bytes,
           "html": html_bytes, "epub": epub_bytes}
