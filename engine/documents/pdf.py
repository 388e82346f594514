"""HTML to PDF with WeasyPrint. CJK text needs the fonts of Debian's fonts-noto-cjk
(`make document-deps`); the HTML carries its own styles and fetches nothing."""


def render_pdf(html: str) -> bytes:
    """The PDF of a self-contained HTML page."""
    from weasyprint import HTML  # imported when a PDF is made: loading it takes a while
    return HTML(string=html).write_pdf()
