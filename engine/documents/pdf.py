"""HTML to PDF with WeasyPrint. CJK text needs the fonts of Debian's fonts-noto-cjk
(`make document-deps`); the HTML carries its own styles and fetches nothing."""


def render_pdf(html: str) -> bytes:
    """The PDF of a self-contained HTML page."""
    from weasyprint import HTML  # imported when a PDF is made: loading it takes a while
    pdf = HTML(string=html).write_pdf()  # None only when asked to write to a target
    assert pdf is not None
    return pdf
